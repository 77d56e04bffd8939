/** ShardHost on the twins and a test clock: poison batches, gaps, output failures, queries. */
import { afterEach, describe, expect, test } from "bun:test"
import type { ActorKind } from "./actor-kind.ts"
import { encodeBatch } from "./batch.ts"
import { Checkpoints } from "./checkpoints.ts"
import { TestClock } from "./clock.ts"
import { Leases } from "./leases.ts"
import { MemoryBus } from "./nats/memory-bus.ts"
import { MemoryJetStream } from "./nats/memory-jetstream.ts"
import { MemoryKv } from "./nats/memory-kv.ts"
import type { JetStream } from "./nats/ports.ts"
import { definitions, names, type StreamDef } from "./nats/topology.ts"
import { askActor } from "./router.ts"
import { rpcSubject, telemetrySubject } from "./shard.ts"
import { ShardHost } from "./shard-host.ts"
import { noopSink } from "./sink-port.ts"

const kind: ActorKind<{ seqs: number[] }> = {
  name: "seqs",
  create: () => ({ seqs: [] }),
  onReading(s, b, i, ctx) {
    s.seqs.push(b.seqs[i]!)
    ctx.publish(`akis.alerts.test.${b.ids[i]}`, { seq: b.seqs[i] }, `${b.ids[i]}:${b.seqs[i]}`)
  },
  snapshot: (s) => [...s.seqs],
  restore: (_id, snap) => ({ seqs: [...(snap as number[])] }),
  query: (s) => ({ seqs: s.seqs }),
}

const settle = async () => {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r))
}

const hosts: ShardHost[] = []
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.stop("shutdown")
})

/** Shared twins (one cluster's NATS) and a clock; hosts for shard 0 made on them. */
const twins = () => {
  const clock = new TestClock()
  const js = new MemoryJetStream(definitions.filter((d): d is StreamDef => d.kind === "stream")
    .map((s) => ({ name: s.name, subjects: s.subjects, duplicateWindowMs: s.duplicateWindowSec * 1000 })), clock)
  const bus = new MemoryBus(clock)
  const snapshots = new MemoryKv()
  const shards = new MemoryKv()
  const log: Array<{ event: string; fields: Record<string, unknown> }> = []
  /** A host of shard 0 for `owner`; `healthy` stands for its node's heartbeats (the lease check after a pause is the real one). */
  const host = async (owner: string, wrap: (js: JetStream) => JetStream = (x) => x, healthy: () => boolean = () => true) => {
    const leases = new Leases(shards, owner, clock)
    const lease = (await leases.take(0, await leases.read(0)))!
    const h = new ShardHost({
      shard: 0, lease, owner, js: wrap(js), bus, checkpoints: new Checkpoints(snapshots), kind: kind as ActorKind<unknown>,
      sink: noopSink(), clock, log: (event, fields) => log.push({ event, fields }), healthy, leaseHeld: () => leases.holds(lease),
      options: { checkpointMs: 500, actorIdleMs: 60_000, tickMs: 1_000, maxPendingRows: 1_000, yieldEveryMs: Infinity },
    })
    hosts.push(h)
    await h.start()
    await settle()
    return h
  }
  const send = (id: string, seq: number) => js.publish(telemetrySubject(0), encodeBatch({
    ids: [id], seqs: Float64Array.of(seq), ts: Float64Array.of(clock.now()), width: 0, values: new Float64Array(0), schema: 1, recvAt: clock.now(),
  }))
  const ask = async (id: string) => {
    const answer = bus.request(rpcSubject(0), new TextEncoder().encode(JSON.stringify({ kind: "seqs", id })), 1_000)
    await settle()
    return JSON.parse(new TextDecoder().decode(await answer)) as { ok: boolean; result?: { seqs: number[] }; error?: string }
  }
  /** Another node takes shard 0's lease (it thought the holder dead). */
  const takeOver = async (owner: string) => {
    const leases = new Leases(shards, owner, clock)
    return (await leases.take(0, await leases.read(0)))!
  }
  return { clock, js, log, host, send, ask, snapshots, takeOver }
}

describe("ShardHost (on the twins)", () => {
  test("an idle shard writes no checkpoint: with nothing handled or changed since the last, a handoff leaves it as it was", async () => {
    const t = twins()
    const a = await t.host("a")
    await t.send("d1", 1)
    await t.clock.advance(1_000)
    await t.send("d1", 2) // handled after the checkpoint gap: checkpointed at seq 2
    await settle()
    const written = (await t.snapshots.get("shard.0"))!.revision
    await t.clock.advance(120_000) // silent: ticks, and d1 is passivated (idle 60 s)
    expect((await a.stats()).passivated).toBe(1)
    expect(await a.stop("handoff")).toBe(true)
    hosts.splice(0)
    expect((await t.snapshots.get("shard.0"))!.revision).toBe(written)
    await t.host("b")
    expect((await t.ask("d1")).result!.seqs).toEqual([1, 2])
  })

  /** a's host handled d1:1, then its node turned unhealthy and d1's `more` readings came meanwhile. */
  const unhealthyAfterOne = async (t: ReturnType<typeof twins>, more: number[]) => {
    let healthy = true
    const h = await t.host("a", undefined, () => healthy)
    await t.send("d1", 1)
    await settle()
    healthy = false
    for (const seq of more) await t.send("d1", seq)
    await settle()
    return { h, heal: () => void (healthy = true) }
  }

  test("heartbeats failing: the host handles nothing; healthy again with its lease still current, it goes on in place", async () => {
    const t = twins()
    const { h, heal } = await unhealthyAfterOne(t, [2, 3])
    await t.clock.advance(3_000) // ticks and pause polls run: still nothing handled or published
    expect((await t.ask("d1")).result!.seqs).toEqual([1])
    // What its node reports to the gateways: d1:2, held by the pause (d1:3 came after it was delivered).
    expect(h.lagBatches).toBe(1)
    expect(t.js.messages(names.alerts).map((m) => m.msgId)).toEqual(["d1:1"])
    heal()
    await t.clock.advance(100)
    await settle()
    expect((await t.ask("d1")).result!.seqs).toEqual([1, 2, 3])
    expect(h.lagBatches).toBe(0)
    expect(t.js.messages(names.alerts).map((m) => m.msgId)).toEqual(["d1:1", "d1:2", "d1:3"])
    const stats = await h.stats()
    expect([stats.pauses, stats.resumes, stats.resets]).toEqual([1, 1, 0])
    // no restore, no replay: one start, and the pause logged with how long it lasted
    expect(t.log.filter((e) => e.event === "shard.start").length).toBe(1)
    expect(t.log.find((e) => e.event === "shard.resumed")!.fields.pausedMs).toBeGreaterThanOrEqual(3_000)
    expect(h.ended).toBe(false)
  })

  test("heartbeats failing while another node takes the shard: the host ends without handling anything more", async () => {
    const t = twins()
    const { h, heal } = await unhealthyAfterOne(t, [2])
    await t.takeOver("b") // b declared a dead and took the lease
    heal()
    await t.clock.advance(100)
    await settle()
    expect(h.ended).toBe(true)
    expect(t.js.messages(names.alerts).map((m) => m.msgId)).toEqual(["d1:1"])
    expect((await h.stats()).resumes).toBe(0)
  })

  test("a malformed batch is dead-lettered with its reason and the shard goes on", async () => {
    const t = twins()
    await t.host("a")
    await t.send("d1", 1)
    await t.js.publish(telemetrySubject(0), new Uint8Array([1, 2, 3]))
    await t.send("d1", 2)
    await settle()
    expect((await t.ask("d1")).result!.seqs).toEqual([1, 2])
    const dlq = t.js.messages(names.deadLetters)
    expect(dlq.map((m) => [m.msgId, m.headers!["Akis-Dlq-Seq"]])).toEqual([[`${names.telemetry}:2`, "2"]])
    expect(dlq[0]!.headers!["Akis-Dlq-Reason"]).toStartWith("malformed batch")
    expect(t.log.filter((e) => e.event === "shard.dead_letter").length).toBe(1)
  })

  test("messages expired before the shard read them raise one stream_gap alert; processing goes on from the first left", async () => {
    const t = twins()
    const first = await t.host("a")
    await t.send("d1", 1)
    await t.send("d1", 2)
    await settle()
    await first.stop("handoff") // final checkpoint at stream seq 2
    hosts.splice(0)
    for (let s = 3; s <= 6; s++) await t.send("d1", s)
    t.js.expire(names.telemetry, 4) // 3 and 4 expire unread
    const next = await t.host("b")
    expect((await t.ask("d1")).result!.seqs).toEqual([1, 2, 5, 6])
    const stats = await next.stats()
    expect([stats.gaps, stats.gapSeqs]).toEqual([1, 2])
    const alerts = t.js.messages(names.alerts).filter((m) => m.msgId?.includes("stream_gap"))
    expect(alerts.map((m) => m.msgId)).toEqual(["akis-shard-0:stream_gap:3:raised:critical"])
  })

  test("an output that fails resets the host to its checkpoint; the replay publishes the same ids once", async () => {
    const t = twins()
    let failed = false
    const failing = (js: JetStream): JetStream => ({
      streamState: (s) => js.streamState(s),
      orderedConsumer: (s, o) => js.orderedConsumer(s, o),
      durableConsumer: (s, n) => js.durableConsumer(s, n),
      publish: (subject, data, o) => {
        if (!failed && o?.msgId === "d1:3") {
          failed = true
          return Promise.reject(new Error("publish failed once"))
        }
        return js.publish(subject, data, o)
      },
    })
    const h = await t.host("a", failing)
    await t.send("d1", 1)
    await t.send("d1", 2)
    await settle()
    await t.clock.advance(600)
    await t.send("d1", 3) // handled; checkpoint due: it waits for the failing publish
    await t.send("d1", 4)
    await settle()
    await t.clock.advance(3_000) // the reset's back-off passes; replay from the checkpoint
    await t.send("d1", 5)
    await settle()
    expect(failed).toBe(true)
    expect(t.log.some((e) => e.event === "shard.reset")).toBe(true)
    expect((await h.stats()).resets).toBeGreaterThanOrEqual(1)
    const seqs = (await t.ask("d1")).result!.seqs
    expect(seqs).toEqual([1, 2, 3, 4, 5]) // in memory again from the checkpoint: nothing doubled
    const ids = t.js.messages(names.alerts).map((m) => m.msgId!)
    expect(new Set(ids).size).toBe(ids.length)
    expect(new Set(ids)).toEqual(new Set(["d1:1", "d1:2", "d1:3", "d1:4", "d1:5"]))
  })

  test("queries are answered for known actors, not_found otherwise", async () => {
    const t = twins()
    await t.host("a")
    await t.send("d1", 1)
    await settle()
    expect(await t.ask("d1")).toEqual({ ok: true, shard: 0, result: { seqs: [1] } } as never)
    expect((await t.ask("nobody")).error).toBe("not_found")
  })

  test("a caller on the owning node is answered in-process (askActor's `local`), the same answer, without the bus; others go to the bus", async () => {
    const t = twins()
    const h = await t.host("a")
    await t.send("d1", 1)
    await settle()
    const overBus: string[] = []
    const remote = { request: async (subject: string) => (overBus.push(subject), { data: new TextEncoder().encode('{"ok":false,"error":"not_found"}') }) }
    expect(await askActor(remote, 1, "seqs", "d1", {}, { local: (shard) => (shard === 0 ? h.queries : undefined) })).toEqual({ seqs: [1] })
    expect(overBus).toEqual([])
    await expect(askActor(remote, 1, "seqs", "d1", {}, { local: () => undefined })).rejects.toThrow()
    expect(overBus).toEqual(["akis.rpc.0"])
    await h.stop("shutdown")
    expect(h.queries).toBeUndefined() // a stopped shard answers nothing in-process: the bus finds its new owner
  })
})
