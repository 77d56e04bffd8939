import { describe, expect, test } from "bun:test"
import { BatchBuilder, bootOf, noBoot, type ReadingBatch } from "../../runtime/batch.ts"
import { checkpointCodec } from "../../runtime/checkpoints.ts"
import { admit, pastBootsKept, readingKey, type Numbering } from "./dedup.ts"
import { makeDeviceMetrics } from "./metrics.ts"
import { busSchema, Device, RecordingContext } from "./testing.ts"

const fresh = (): Numbering => ({ boot: noBoot, lastSeq: -Infinity, lastTs: -Infinity, epoch: 0, pastBoots: [] })

/** A reading as the device actor sees it: its identity and its event time. */
interface R { readonly boot: number; readonly seq: number; readonly ts: number }
const key = (r: R) => `${r.boot}/${r.seq}/${r.ts}`

/** Seeded PRNG (mulberry32) so a failing case can be replayed. */
const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/**
 * One device's life as the stream shows it: new readings, resends of its unacknowledged tail
 * (after a reconnect, possibly through another gateway), reboots that restart the count from 1
 * (v2: with a new boot; v1: without), and — for v2 — a persisted backlog of an older boot drained
 * after the reboot. The clock only moves forward.
 */
const life = (seed: number, v2: boolean, steps = 400): R[] => {
  const rand = rng(seed)
  const out: R[] = []
  let boot = v2 ? Math.floor(rand() * 2 ** 52) : noBoot
  let seq = 0
  let ts = 1_700_000_000_000
  let tail: R[] = []
  const oldBoots: R[][] = []
  for (let i = 0; i < steps; i++) {
    const x = rand()
    if (x < 0.7) {
      ts += 1 + Math.floor(rand() * 500)
      const r = { boot, seq: ++seq, ts }
      out.push(r)
      tail = [...tail, r].slice(-8)
    } else if (x < 0.85) {
      out.push(...tail.slice(Math.floor(rand() * tail.length))) // resend of the unacked tail
    } else if (x < 0.95) {
      oldBoots.push(tail)
      if (v2) {
        boot = rand() < 0.5 ? boot + 1 : Math.floor(rand() * 2 ** 52) // counter or random id
        if (rand() < 0.3) out.push(...tail) // backlog of the earlier boot, sent before the new one
      }
      seq = Math.floor(rand() * 3) // restarts at 1 (or 2, or 3)
      tail = []
    } else if (v2 && oldBoots.length > 1) {
      out.push(...oldBoots.at(-1)!) // late copy of the previous boot's tail, e.g. a retried batch
    }
  }
  return out
}

describe("reading identity (device, boot, seq)", () => {
  test.each([[false], [true]])("every distinct reading is admitted exactly once, every resend refused (v2=%p, 300 random lives)", (v2) => {
    for (let seed = 1; seed <= 300; seed++) {
      const st = fresh()
      const m = makeDeviceMetrics()
      const seen = new Set<string>()
      const admitted: string[] = []
      let copies = 0
      for (const r of life(seed, v2)) {
        const k = key(r)
        if (seen.has(k)) copies++
        seen.add(k)
        if (admit(st, r.boot, r.seq, r.ts, m)) admitted.push(k)
      }
      expect({ seed, admitted: new Set(admitted).size, dup: admitted.length - new Set(admitted).size }).toEqual({ seed, admitted: seen.size, dup: 0 })
      expect(m.duplicates).toBe(copies)
    }
  })

  test("a v1 device that restarts from seq 1 with its clock going on: new readings stored, resends refused", () => {
    const st = fresh()
    const m = makeDeviceMetrics()
    const got = [[1, 100], [2, 200], [3, 300], [3, 300], [1, 400], [2, 500], [2, 500], [1, 400], [2, 200]].map(([s, t]) => admit(st, noBoot, s!, t!, m))
    expect(got).toEqual([true, true, true, false, true, true, false, false, false])
    expect(m.numberingRestarts).toBe(1)
  })

  test("known limit (v1 only): a copy from before a restart arriving after the new count passed its seq is taken again", () => {
    // Without a boot the actor keeps one numbering; ClickHouse still collapses the copy (same device, ts, seq).
    const st = fresh()
    const m = makeDeviceMetrics()
    const got = [[1, 100], [2, 200], [3, 300], [1, 400], [2, 500], [3, 300]].map(([s, t]) => admit(st, noBoot, s!, t!, m))
    expect(got).toEqual([true, true, true, true, true, true])
    // With boots the same history is exact.
    const v2 = fresh()
    const exact = [[1, 1, 100], [1, 2, 200], [1, 3, 300], [2, 1, 400], [2, 2, 500], [1, 3, 300]].map(([b, s, t]) => admit(v2, b!, s!, t!, m))
    expect(exact).toEqual([true, true, true, true, true, false])
  })

  test("seq going back without a later ts is a resend (the case the gateway refuses on one connection)", () => {
    const st = fresh()
    const m = makeDeviceMetrics()
    admit(st, noBoot, 5, 500, m)
    expect(admit(st, noBoot, 1, 400, m)).toBe(false)
    expect(m.duplicates).toBe(1)
  })

  test(`remembers ${pastBootsKept} earlier boots; a boot forgotten beyond that starts afresh (counted in newBoots)`, () => {
    const st = fresh()
    const m = makeDeviceMetrics()
    for (let b = 1; b <= pastBootsKept + 2; b++) admit(st, b, 1, b * 1000, m)
    expect(st.pastBoots.length).toBe(pastBootsKept * 3)
    expect(admit(st, pastBootsKept + 1, 1, (pastBootsKept + 1) * 1000, m)).toBe(false) // kept: a resend
    const before = m.newBoots
    expect(admit(st, 1, 1, 1000, m)).toBe(true) // forgotten: accepted (the store de-duplicates by ts+seq)
    expect(m.newBoots).toBe(before + 1)
  })

  test("alert ids stay unique when a seq repeats in a later boot", () => {
    const st = fresh()
    const m = makeDeviceMetrics()
    admit(st, noBoot, 7, 1, m)
    const a = readingKey(st, 7)
    admit(st, 3, 7, 2, m)
    expect(readingKey(st, 7)).not.toBe(a)
  })
})

/** Records (boot, seq) of every reading the actor stores. */
class StoringContext extends RecordingContext {
  readonly rows: string[] = []
  override store(batch?: ReadingBatch, i?: number): void {
    super.store()
    this.rows.push(`${bootOf(batch!, i!)}/${batch!.seqs[i!]}`)
  }
}

describe("device actor and restarted numbering", () => {
  const run = (readings: ReadonlyArray<readonly [boot: number, seq: number, at: number]>) => {
    const d = new Device("rules: {}\n")
    const ctx = new StoringContext()
    ctx.now = Device.t0
    const b = new BatchBuilder(busSchema.fields.length, 1)
    for (const [boot, seq, at] of readings) b.push("bus-1", seq, Device.t0 + at * 1000, new Float64Array(busSchema.fields.length), 0, boot)
    const batch = b.take(0)
    for (let i = 0; i < batch.ids.length; i++) d.kind.onReading(d.state, batch, i, ctx)
    return { d, ctx }
  }

  test("stores every reading of a device that reboots with a new boot and starts again from seq 1; resends stored once", () => {
    const { ctx, d } = run([[7, 1, 1], [7, 2, 2], [7, 3, 3], [7, 2, 2], [8, 1, 4], [8, 2, 5], [8, 2, 5], [7, 3, 3], [8, 3, 6]])
    expect(ctx.rows).toEqual(["7/1", "7/2", "7/3", "8/1", "8/2", "8/3"])
    expect(d.kind.metrics.duplicates).toBe(3)
  })

  test("the device's numbering survives a snapshot through the checkpoint codec (failover, passivation)", () => {
    const { d } = run([[7, 1, 1], [7, 5, 2], [8, 1, 3]])
    const restored = d.kind.restore("bus-1", checkpointCodec.unpack(checkpointCodec.pack(d.kind.snapshot(d.state))), d.ctx)
    const ctx = new StoringContext()
    const b = new BatchBuilder(busSchema.fields.length, 1)
    for (const [boot, seq, at] of [[7, 5, 2], [8, 1, 3], [8, 2, 4]] as const) b.push("bus-1", seq, Device.t0 + at * 1000, new Float64Array(busSchema.fields.length), 0, boot)
    const batch = b.take(0)
    for (let i = 0; i < 3; i++) d.kind.onReading(restored, batch, i, ctx)
    expect(ctx.rows).toEqual(["8/2"])
  })
})
