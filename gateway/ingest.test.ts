import { describe, expect, test } from "bun:test"
import { TestClock } from "../runtime/clock.ts"
import { decodeBatch } from "../runtime/batch.ts"
import { AckCursor, Ingest, type AckTarget, type IngestOptions } from "./ingest.ts"
import { newMetrics } from "./metrics.ts"

/** A publish whose PubAcks the test releases by hand. */
const harness = (over: Partial<IngestOptions> = {}) => {
  const calls: Array<{ shard: number; bytes: Uint8Array; msgId: string; ok: () => void; fail: () => void }> = []
  const pressure: boolean[] = []
  const clock = new TestClock(0)
  const metrics = newMetrics()
  const ingest = new Ingest({
    partitions: 4, width: 2, schemaVersion: 1, flushBytes: 1 << 20, flushMs: 5, maxBufferedReadings: 1000, maxInFlight: 8,
    instanceId: "gw", metrics,
    publish: (shard, bytes, msgId) => new Promise((res, rej) => calls.push({ shard, bytes, msgId, ok: () => res(undefined), fail: () => rej(new Error("down")) })),
    clock,
    onPressure: (p) => pressure.push(p),
    ...over,
  })
  const target = (): AckTarget & { acks: number[] } => {
    const acks: number[] = []
    return { cursor: new AckCursor(), acks, ack: (s) => acks.push(s) }
  }
  const settle = () => new Promise((r) => setTimeout(r, 0))
  return { ingest, calls, clock, pressure, metrics, target, settle, advance: (ms: number) => clock.advance(ms) }
}

describe("Ingest", () => {
  test("a batch is sealed flushMs after its first reading; an idle gateway has no timer armed", async () => {
    const h = harness({ flushBytes: 1024 })
    const a = h.target()
    expect(h.clock.timers).toBe(0)
    h.ingest.add(a, "dev-a", 2, 1, 1000, [1, 2])
    await h.advance(4)
    expect(h.calls.length).toBe(0)
    await h.advance(1)
    expect(h.calls.map((c) => c.shard)).toEqual([2])
    expect(h.clock.timers).toBe(0)
    // A batch sealed by size before the timer: the timer waits on for the batch opened after it.
    const row = [0, 0]
    h.ingest.add(a, "dev-a", 3, 2, 1000, row)
    await h.advance(3)
    while (h.calls.length < 2) h.ingest.add(a, "dev-a", 3, 3 + h.calls.length, 1000, row) // fills 1 KB
    h.ingest.add(a, "dev-a", 3, 999, 1000, row) // opens the next batch at t = 3 ms
    await h.advance(2) // the timer fires at 5 ms, finds a batch 2 ms old
    expect(h.calls.length).toBe(2)
    h.calls[1]!.ok() // one publish in flight per shard: let the next one go
    await h.settle()
    expect(h.calls.length).toBe(2)
    await h.advance(3)
    expect(h.calls.length).toBe(3)
    expect(decodeBatch(h.calls[2]!.bytes).seqs[0]).toBe(999)
    expect(h.clock.timers).toBe(0)
  })

  test("batches of several shards are sealed in one turn: all that are due and all at least flushMs/2 old; none waits longer than flushMs", async () => {
    const h = harness()
    const a = h.target()
    const at: Array<{ shard: number; t: number }> = []
    const seen = () => {
      while (at.length < h.calls.length) at.push({ shard: h.calls[at.length]!.shard, t: h.clock.now() })
    }
    h.ingest.add(a, "dev-a", 0, 1, 1000, [1, 2]) // t = 0
    await h.advance(2)
    h.ingest.add(a, "dev-a", 1, 2, 1000, [1, 2]) // t = 2: 3 ms old at 5 → sealed with shard 0
    await h.advance(2)
    h.ingest.add(a, "dev-a", 2, 3, 1000, [1, 2]) // t = 4: 1 ms old at 5 → its own deadline, 9
    for (let t = 0; t < 10; t++) {
      await h.advance(1)
      seen()
    }
    expect(at).toEqual([{ shard: 0, t: 5 }, { shard: 1, t: 5 }, { shard: 2, t: 9 }])
    expect(h.clock.timers).toBe(0)
  })

  test("a batch's recvAt is when its first reading arrived, so reading-to-alert latency includes the batching wait", async () => {
    const h = harness()
    const a = h.target()
    await h.advance(100)
    h.ingest.add(a, "dev-a", 1, 1, 1000, [1, 2])
    await h.advance(3)
    h.ingest.add(a, "dev-a", 1, 2, 1000, [1, 2])
    await h.advance(2)
    expect(decodeBatch(h.calls[0]!.bytes).recvAt).toBe(100)
  })

  test("seals a shard's batch after flushMs and acks only after the PubAck", async () => {
    const h = harness()
    const a = h.target()
    h.ingest.add(a, "dev-a", 1, 10, 1000, [1, 2])
    h.ingest.add(a, "dev-a", 1, 11, 1001, [3, 4])
    await h.advance(4)
    h.ingest.tick()
    expect(h.calls.length).toBe(0)
    await h.advance(1)
    h.ingest.tick()
    expect(h.calls.length).toBe(1)
    const b = decodeBatch(h.calls[0]!.bytes)
    expect([b.ids, Array.from(b.seqs), Array.from(b.values)]).toEqual([["dev-a", "dev-a"], [10, 11], [1, 2, 3, 4]])
    expect(a.acks).toEqual([])
    h.calls[0]!.ok()
    await h.settle()
    expect(a.acks).toEqual([11])
    expect(h.metrics.durable).toBe(2)
  })

  test("a shard has one publish in flight; a failed batch is retried with the same id before later ones", async () => {
    const h = harness()
    const a = h.target()
    h.ingest.add(a, "dev-a", 0, 1, 0, [0, 0])
    await h.advance(5)
    h.ingest.tick()
    h.ingest.add(a, "dev-a", 0, 2, 0, [0, 0])
    await h.advance(5)
    h.ingest.tick()
    expect(h.calls.length).toBe(1)
    h.calls[0]!.fail()
    await h.settle()
    expect(a.acks).toEqual([])
    // Retried after the first back-off step (50 ms), not before.
    await h.advance(49)
    expect(h.calls.length).toBe(1)
    await h.advance(1)
    expect(h.calls.length).toBe(2)
    expect(h.calls[1]!.msgId).toBe(h.calls[0]!.msgId)
    h.calls[1]!.ok()
    await h.settle()
    expect(a.acks).toEqual([1])
    expect(decodeBatch(h.calls[2]!.bytes).seqs[0]).toBe(2)
    h.calls[2]!.ok()
    await h.settle()
    expect(a.acks).toEqual([1, 2])
    expect(h.metrics.publish_errors).toBe(1)
  })

  test("shards publish independently; each connection hears only about its own readings", async () => {
    const h = harness()
    const a = h.target()
    const b = h.target()
    h.ingest.add(a, "dev-a", 0, 5, 0, [0, 0])
    h.ingest.add(b, "dev-b", 2, 9, 0, [0, 0])
    await h.advance(5)
    h.ingest.tick()
    expect(h.calls.map((c) => c.shard).sort()).toEqual([0, 2])
    h.calls.find((c) => c.shard === 2)!.ok()
    await h.settle()
    expect([a.acks, b.acks]).toEqual([[], [9]])
  })

  test("seals at flushBytes without waiting for the timer", () => {
    const h = harness({ flushBytes: 1024 })
    const a = h.target()
    for (let i = 0; i < 30; i++) h.ingest.add(a, "dev-a", 3, i, 0, [0, 0])
    expect(h.calls.length).toBe(1)
  })

  test("pauses above maxBufferedReadings and resumes at half after PubAcks", async () => {
    const h = harness({ maxBufferedReadings: 10 })
    const a = h.target()
    for (let i = 0; i < 10; i++) h.ingest.add(a, "dev-a", 0, i, 0, [0, 0])
    expect(h.pressure).toEqual([true])
    expect(h.ingest.isPaused).toBe(true)
    await h.advance(5)
    h.ingest.tick()
    h.calls[0]!.ok()
    await h.settle()
    expect(h.pressure).toEqual([true, false])
    expect(a.acks).toEqual([9])
    expect(h.metrics.backpressure_pauses).toBe(1)
  })

  test("drain resolves once everything accepted is durable", async () => {
    const h = harness()
    const a = h.target()
    h.ingest.add(a, "dev-a", 1, 1, 0, [0, 0])
    let drained = false
    const d = h.ingest.drain().then(() => (drained = true))
    await h.settle()
    expect(drained).toBe(false)
    h.calls[0]!.ok()
    await d
    expect(h.ingest.buffered).toBe(0)
  })
})

describe("AckCursor", () => {
  test("acks the last seq of every run whose batch is durable", () => {
    const c = new AckCursor()
    expect(c.record(1, 10)).toBe(true)
    expect(c.record(1, 11)).toBe(false)
    c.record(2, 12)
    c.record(3, 13)
    expect(c.advance(0)).toBeUndefined()
    expect(c.advance(2)).toBe(12)
    expect(c.pending).toBe(1)
    expect(c.advance(3)).toBe(13)
  })
})
