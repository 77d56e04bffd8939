/**
 * The alert writer on the NATS twins and a TestClock: redelivery to the next writer after the
 * ack wait, and dead letters, without a server (tests/sink-alerts.test.ts runs it on one).
 */
import { describe, expect, test } from "bun:test"
import { alertSubject, type AlertTransition } from "../../runtime/alert.ts"
import { TestClock } from "../../runtime/clock.ts"
import { deadLetterHeaders } from "../../runtime/nats/dead-letters.ts"
import { MemoryNats } from "../../runtime/nats/memory-nats.ts"
import { defaultAlertsConsumer, names } from "../../runtime/nats/topology.ts"
import { startAlertWriter } from "./alert-consumer.ts"
import { StoreUnavailable } from "./errors.ts"
import type { Store } from "./store.ts"

const topology = { replicas: 1, telemetryMaxAgeHours: 1, alertsMaxAgeHours: 1 }
const at = Date.UTC(2026, 10, 22, 12, 0, 0)
const transition = (i: number): AlertTransition => ({
  id: `bus-${i}:overheat:${i}:raised:warning`, alertId: `bus-${i}:overheat:${i}`, device: `bus-${i}`, rule: "overheat", kind: "raised",
  severity: "warning", at: at + i * 1000, seq: i, message: `coolant high on bus-${i}`, values: { coolant_temp_c: 100 + i },
  channels: ["email"], ruleVersion: 1, recvAt: at + i * 1000 + 3,
})
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

/** A store that keeps the ids of inserted alert rows (every insert, so a second copy shows); `down` refuses inserts as unreachable. */
const recordingStore = () => {
  const ids: string[] = []
  const state = { down: false, calls: 0 }
  const store: Store = {
    kind: "chdb", binaryInsert: false, exec: async () => {}, query: async () => [], close: async () => {},
    async insert(table, _c, _f, body) {
      state.calls++
      if (state.down) throw new StoreUnavailable({ op: "insert", message: "down" })
      if (table !== "alerts") return
      for (const line of String(body).split("\n")) if (line) ids.push((JSON.parse(line) as { id: string }).id)
    },
  }
  return { store, ids, state }
}

const setup = async () => {
  const clock = new TestClock(at + 60_000)
  const nats = new MemoryNats(clock)
  await nats.setup.ensure([names.alerts], topology)
  return { clock, nats }
}

describe("alert writer on the twins", () => {
  test("a batch its writer could not store is redelivered to the next writer after the ack wait, and stored once", async () => {
    const { clock, nats } = await setup()
    const a = recordingStore()
    a.state.down = true
    for (let i = 0; i < 3; i++) await nats.js.publish(alertSubject(transition(i)), json(transition(i)))
    const first = await startAlertWriter({ nats, store: a.store, consumer: defaultAlertsConsumer, topology, clock, retryMinMs: 100, retryMaxMs: 100 })
    await clock.advance(2_000)
    expect(a.state.calls).toBeGreaterThan(1) // retried, never acked
    expect(first.metrics.insertErrors).toBeGreaterThan(1)
    const stopping = first.stop() // gives up unacked, as a node that dies
    await clock.advance(1_000)
    await stopping

    const b = recordingStore()
    const second = await startAlertWriter({ nats, store: b.store, consumer: defaultAlertsConsumer, topology, clock })
    await clock.advance(5_000)
    expect(b.ids).toEqual([]) // still within the ack wait (10 s) of the first writer's last in-progress ack
    await clock.advance(10_000)
    expect(new Set(b.ids)).toEqual(new Set([0, 1, 2].map((i) => transition(i).id)))
    expect(b.ids.length).toBe(3)
    expect(second.metrics.stored).toBe(3)
    expect(nats.js.unacked(names.alerts, defaultAlertsConsumer)).toBe(0)
    await clock.advance(30_000) // acked: nothing comes again
    expect(b.ids.length).toBe(3)
    const stopped = second.stop()
    await clock.advance(1_000)
    await stopped
  })

  test("a transition that is not storable is dead-lettered with where it came from, the rest stored, all acked", async () => {
    const { clock, nats } = await setup()
    const s = recordingStore()
    const reasons: string[] = []
    const w = await startAlertWriter({ nats, store: s.store, consumer: defaultAlertsConsumer, topology, clock, onDeadLetter: (r) => reasons.push(r) })
    const good = transition(1)
    await nats.js.publish(alertSubject(good), json(good))
    const bad = await nats.js.publish("akis.alerts.warning.bus-2", json({ ...transition(2), severity: "fatal" }))
    await clock.advance(2_000)
    expect(s.ids).toEqual([good.id])
    expect(w.metrics.deadLettered).toBe(1)
    expect(reasons.length).toBe(1)
    const dl = nats.js.messages(names.deadLetters)
    expect(dl.map((m) => [m.subject, m.msgId, m.headers?.[deadLetterHeaders.seq], m.headers?.[deadLetterHeaders.stream]]))
      .toEqual([["akis.dlq.alerts", `${names.alerts}:${bad.seq}`, String(bad.seq), names.alerts]])
    expect(nats.js.unacked(names.alerts, defaultAlertsConsumer)).toBe(0)
    const stopped = w.stop()
    await clock.advance(1_000)
    await stopped
  })
})
