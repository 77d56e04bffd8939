/**
 * Alert transitions flow from JetStream AKIS_ALERTS into the `alerts` table: stored once even when
 * published twice or re-delivered, acked only after the insert, non-transitions skipped and counted.
 */
import { afterAll, expect, test } from "bun:test"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/transport-node"
import { alerts, ensureAlertsStream, makeChdbStore, migrate, startAlertWriter, type Store } from "../actors/sink/index.ts"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { alertSubject, type AlertTransition } from "../runtime/alert.ts"
import { testTopology } from "./support/topology.ts"
import { startNats, tempDir, waitFor, type NatsServer } from "./harness/index.ts"
import { natsPorts } from "../runtime/nats/nats-ports.ts"

let nats: NatsServer | undefined
let nc: NatsConnection | undefined
let store: Store | undefined

afterAll(async () => {
  await nc?.close()
  await store?.close()
  await nats?.cleanup()
})

const at = Date.UTC(2026, 10, 22, 12, 0, 0)
const transition = (i: number): AlertTransition => ({
  id: `bus-${i}:overheat:${i}:raised:warning`, alertId: `bus-${i}:overheat:${i}`, device: `bus-${i}`, rule: "overheat", kind: "raised",
  severity: "warning", at: at + i * 1000, seq: i, message: `coolant high on bus-${i}`, values: { coolant_temp_c: 100 + i },
  channels: ["email"], ruleVersion: 1, recvAt: at + i * 1000 + 3,
})

test("alert writer stores each transition once and acks after the insert", async () => {
  nats = await startNats()
  nc = await nats.connect()
  store = makeChdbStore(tempDir("akis-chdb-alerts-"))
  await migrate(store, loadDeviceSchema())
  await ensureAlertsStream((await natsPorts(nc)).setup, testTopology)
  await ensureAlertsStream((await natsPorts(nc)).setup, testTopology) // idempotent
  const js = jetstream(nc)
  const enc = new TextEncoder()
  for (let i = 0; i < 50; i++) {
    const t = transition(i)
    // Published twice without a msg id (a replay JetStream does not catch): the table must absorb it.
    await js.publish(alertSubject(t), enc.encode(JSON.stringify(t)))
    await js.publish(alertSubject(t), enc.encode(JSON.stringify(t)))
  }
  await js.publish("akis.alerts.explanation.bus-1", enc.encode(JSON.stringify({ alertId: "bus-1:overheat:1", text: "…" })))

  const writer = await startAlertWriter({ nats: await natsPorts(nc), store, consumer: "akis_sink_alerts", topology: testTopology })
  const range = { from: at, to: at + 3_600_000, limit: 1000 }
  await waitFor("alerts stored", async () => writer.metrics.stored >= 100 && (await alerts(store!, range)).length === 50, { timeoutMs: 20_000 })
  expect(writer.metrics.skipped).toBe(1)
  const jsm = await jetstreamManager(nc)
  await waitFor("all acked", async () => (await jsm.consumers.info("AKIS_ALERTS", "akis_sink_alerts")).num_ack_pending === 0)
  await writer.stop()

  // A restarted writer resumes from the durable consumer: nothing is re-stored.
  const again = await startAlertWriter({ nats: await natsPorts(nc), store, consumer: "akis_sink_alerts", topology: testTopology })
  await js.publish(alertSubject(transition(7)), enc.encode(JSON.stringify(transition(7))))
  await waitFor("replayed copy consumed", () => again.metrics.stored === 1, { timeoutMs: 10_000 })
  await again.stop()
  const stored = await alerts(store, range)
  expect(stored).toHaveLength(50)
  expect(stored.find((a) => a.device === "bus-7")).toEqual(transition(7))
}, 60_000)

test("while ClickHouse refuses inserts the alert writer retries and acks nothing; then it stores everything", async () => {
  const inner = store!
  let down = true
  const flaky: Store = {
    ...inner,
    insert: (t, c, f, b) => (down ? Promise.reject(new Error("connection refused")) : inner.insert(t, c, f, b)),
  }
  const js = jetstream(nc!)
  const enc = new TextEncoder()
  for (let i = 100; i < 110; i++) await js.publish(alertSubject(transition(i)), enc.encode(JSON.stringify(transition(i))))
  const writer = await startAlertWriter({ nats: await natsPorts(nc!), store: flaky, consumer: "akis_sink_alerts", topology: testTopology, retryMinMs: 20, retryMaxMs: 100 })
  await waitFor("insert attempts fail", () => writer.metrics.insertErrors >= 3)
  const jsm = await jetstreamManager(nc!)
  expect((await jsm.consumers.info("AKIS_ALERTS", "akis_sink_alerts")).num_ack_pending).toBeGreaterThan(0) // fetched, not acked
  down = false
  await waitFor("stored after recovery", () => writer.metrics.stored === 10)
  await waitFor("acked", async () => (await jsm.consumers.info("AKIS_ALERTS", "akis_sink_alerts")).num_ack_pending === 0)
  await writer.stop()
  expect(await alerts(inner, { from: at, to: at + 3_600_000, limit: 1000 })).toHaveLength(60)
}, 30_000)
