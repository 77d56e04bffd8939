/**
 * Poison messages and gaps: what a hostile or broken publisher puts on the streams is set aside in
 * AKIS_DLQ with the reason and counted, and processing goes on; a shard that finds stream messages
 * expired before it read them reports the gap and goes on.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/transport-node"
import { join } from "node:path"
import { alerts, makeChdbStore, migrate, startAlertWriter, type Store } from "../actors/sink/index.ts"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { alertSubject, BatchBuilder, encodeBatch, listDeadLetters, names, shardOf, telemetrySubject, type AlertTransition } from "../runtime/index.ts"
import { startNats, tempDir, waitFor, type NatsServer } from "./harness/index.ts"
import { testTopology } from "./support/topology.ts"
import { createTestStreams, events, ReadingPublisher, spawnCountingNode, testNodeEnv, waitForCounts } from "./support/cluster.ts"
import { natsPorts } from "../runtime/nats/nats-ports.ts"

const P = 2
const root = join(import.meta.dir, "..")
let ns: NatsServer
let nc: NatsConnection
beforeAll(async () => {
  ns = await startNats()
  nc = await ns.connect()
  await createTestStreams(nc)
})
afterAll(async () => ns.cleanup())

const enc = new TextEncoder()
const ids = ["dev-a", "dev-b", "dev-c", "dev-d"]
const ops = (...args: string[]) => {
  const p = Bun.spawnSync(["bun", "ops/cli.ts", ...args], { cwd: root, env: { ...process.env, AKIS_NATS__SERVERS: ns.url }, stdout: "pipe", stderr: "pipe" })
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() }
}

describe("poison messages", () => {
  test("a malformed batch, a batch with a bad device id and a reading the actor throws on are dead-lettered; the shard goes on", async () => {
    const node = spawnCountingNode("p1", testNodeEnv(ns.url, P))
    try {
      await waitFor("p1 holds both shards", () => events(node).filter((e) => e.event === "shard.start").length === P, { timeoutMs: 20_000 })
      const pub = new ReadingPublisher(nc, P)
      await pub.round(ids)
      const js = jetstream(nc)
      const shard = shardOf("dev-a", P)
      // Not msgpack at all.
      const garbage = await js.publish(telemetrySubject(shard), enc.encode("definitely not a batch"))
      // Well-formed msgpack, but a device id that would be a wildcard in an alert subject.
      const bad = new BatchBuilder(2, 1)
      bad.push("bus.>", 1, Date.now(), [1, 1])
      const badId = await js.publish(telemetrySubject(shard), encodeBatch(bad.take(Date.now())))
      // A valid batch whose second reading makes the actor throw: the other readings still count.
      const mixed = new BatchBuilder(2, 1)
      mixed.push("dev-a", 100, Date.now(), [1, 1])
      mixed.push("poison-1", 1, Date.now(), [1, 1])
      mixed.push("dev-a", 101, Date.now(), [1, 1])
      const thrown = await js.publish(telemetrySubject(shard), encodeBatch(mixed.take(Date.now())))
      for (let r = 0; r < 3; r++) await pub.round(ids)

      // Every valid reading before and after the poison is counted exactly once.
      await waitForCounts(nc, P, ids, (id) => pub.sent.get(id)! + (id === "dev-a" ? 2 : 0), 20_000)
      const jsm = await jetstreamManager(nc)
      await waitFor("three dead letters", async () => (await listDeadLetters(jsm)).length === 3, { timeoutMs: 10_000 })
      const dl = await listDeadLetters(jsm)
      expect(new Set(dl.map((d) => d.seq))).toEqual(new Set([garbage.seq, badId.seq, thrown.seq]))
      expect(dl.every((d) => d.source === "tlm" && d.stream === names.telemetry && d.subject === telemetrySubject(shard))).toBe(true)
      const reason = (seq: number) => dl.find((d) => d.seq === seq)!.reason
      expect(reason(garbage.seq)).toContain("malformed batch")
      expect(reason(badId.seq)).toContain(`device id "bus.>" is not a device id`)
      expect(reason(thrown.seq)).toContain("reading 1 (poison-1): cannot count poison-1")
      expect(events(node).filter((e) => e.event === "shard.dead_letter")).toHaveLength(3)
      expect(events(node).some((e) => e.event === "shard.reset")).toBe(false)

      // ops dlq list shows them; replaying one puts it back on its subject, where it is poison again.
      const listed = ops("dlq", "list", "--json")
      expect(listed.code).toBe(0)
      const rows = JSON.parse(listed.out) as Array<{ dlqSeq: number; seq: number; reason: string }>
      expect(rows.map((r) => r.seq).sort((a, b) => a - b)).toEqual([garbage.seq, badId.seq, thrown.seq].sort((a, b) => a - b))
      const first = rows.find((r) => r.seq === garbage.seq)!
      const replayed = ops("dlq", "replay", String(first.dlqSeq))
      expect(replayed.out).toContain(`replayed ${first.dlqSeq} to ${telemetrySubject(shard)}`)
      await waitFor("the replayed batch dead-lettered again", async () => {
        const now = await listDeadLetters(jsm)
        return now.length === 3 && !now.some((d) => d.dlqSeq === first.dlqSeq) && now.filter((d) => d.reason.includes("malformed batch")).length === 1
      }, { timeoutMs: 10_000 })
      expect(ops("dlq", "replay", "999999").code).toBe(1)
    } finally {
      await node.kill("SIGKILL")
    }
  }, 60_000)

  test("an alert with seq 1e300 is dead-lettered and the alerts after it are stored", async () => {
    const store: Store = makeChdbStore(tempDir("akis-chdb-poison-"))
    await migrate(store, loadDeviceSchema())
    const js = jetstream(nc)
    const at = Date.UTC(2026, 10, 22, 12, 0, 0)
    const t = (i: number, over: Partial<AlertTransition> = {}): AlertTransition => ({
      id: `bus-${i}:r:${i}:raised:warning`, alertId: `bus-${i}:r:${i}`, device: `bus-${i}`, rule: "r", kind: "raised", severity: "warning",
      at: at + i, seq: i, message: "", values: {}, channels: [], ruleVersion: 1, recvAt: at, ...over,
    })
    const absurd = t(0, { seq: 1e300 })
    const poison = await js.publish(alertSubject(absurd), enc.encode(JSON.stringify(absurd)))
    for (let i = 1; i <= 5; i++) await js.publish(alertSubject(t(i)), enc.encode(JSON.stringify(t(i))))
    const writer = await startAlertWriter({ nats: await natsPorts(nc), store, consumer: "akis_sink_alerts_poison", topology: testTopology, retryMinMs: 10, retryMaxMs: 50 })
    try {
      await waitFor("the valid alerts stored", async () => (await alerts(store, { from: at, to: at + 60_000, limit: 100 })).length === 5, { timeoutMs: 20_000 })
      await waitFor("the batch acknowledged", () => writer.metrics.stored === 5, { timeoutMs: 10_000 })
      expect(writer.metrics).toMatchObject({ stored: 5, deadLettered: 1, insertErrors: 0 })
      const dl = (await listDeadLetters(await jetstreamManager(nc))).filter((d) => d.source === "alerts")
      expect(dl).toHaveLength(1)
      expect(dl[0]).toMatchObject({ stream: "AKIS_ALERTS", seq: poison.seq, subject: alertSubject(absurd) })
      expect(dl[0]!.reason).toContain("seq 1e+300 is not an integer")
    } finally {
      await writer.stop()
      await store.close()
    }
  }, 60_000)
})

describe("gaps", () => {
  test("a shard resuming after the stream dropped messages it never read reports the gap, raises an alert and goes on", async () => {
    const env = testNodeEnv(ns.url, P)
    const gapIds = ["gap-a", "gap-b", "gap-c", "gap-d"]
    let node = spawnCountingNode("g1", env)
    const pub = new ReadingPublisher(nc, P)
    try {
      await waitFor("g1 holds both shards", () => events(node).filter((e) => e.event === "shard.start").length === P, { timeoutMs: 20_000 })
      await pub.round(gapIds)
      await waitForCounts(nc, P, gapIds, () => 1, 20_000)
      await node.kill("SIGTERM") // drain: final checkpoint at what it processed
      await node.exited

      // Nobody reads while the stream's age limit removes what is published now.
      const jsm = await jetstreamManager(nc)
      const cfg = (await jsm.streams.info(names.telemetry)).config
      await jsm.streams.update(names.telemetry, { ...cfg, max_age: 1e9, duplicate_window: 1e9 })
      await pub.round(gapIds)
      await pub.round(gapIds)
      await waitFor("the unread messages expired", async () => (await jsm.streams.info(names.telemetry)).state.messages === 0, { timeoutMs: 15_000 })
      await jsm.streams.update(names.telemetry, cfg)
      await pub.round(gapIds)

      node = spawnCountingNode("g2", env)
      await waitFor("both shards report their gap", () => events(node).filter((e) => e.event === "shard.gap").length === P, { timeoutMs: 20_000 })
      for (const g of events(node).filter((e) => e.event === "shard.gap")) expect(g.count as number).toBeGreaterThan(0)
      // The reading after the gap is processed: 1 before + 1 after (the 2 in the gap are lost).
      await waitForCounts(nc, P, gapIds, () => 2, 20_000)
      const alertsOnStream = await jsm.streams.info("AKIS_ALERTS", { subjects_filter: "akis.alerts.critical.>" })
      const subjects = Object.keys(alertsOnStream.state.subjects ?? {})
      expect(new Set(subjects)).toEqual(new Set(Array.from({ length: P }, (_, s) => `akis.alerts.critical.akis-shard-${s}`)))
    } finally {
      await node.kill("SIGKILL")
    }
  }, 90_000)
})

