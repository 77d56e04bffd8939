import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import { arenaBytes, H, type WindowNeeds } from "../../../config/rules/window-layout.ts"
import { WindowArena } from "./arena.ts"
import { windowReaders as r } from "./readers.ts"
import { windowOf, type WindowSnapshot } from "./snapshot.ts"

/** One window of an arena (plus a second, longer one sharing it, so offsets and growth interact). */
class SlidingWindow {
  readonly arena: WindowArena
  constructor(readonly key: string, readonly ms: number, moments: boolean, extremes: boolean) {
    // field 0 feeds window 0; field 1 (= -x) feeds a 3× longer window; field 2 (= x) a second
    // window of the same duration as window 0, so rings are shared and grow together.
    this.arena = new WindowArena([
      { field: 0, ms, moments, extremes }, { field: 1, ms: ms * 3, moments: true, extremes: true }, { field: 2, ms, moments: true, extremes: true },
    ])
  }
  static restore(s: ReturnType<WindowArena["snapshot"]>, ms: number, moments: boolean, extremes: boolean) {
    const w = new SlidingWindow("x", ms, moments, extremes)
    w.arena.loadAll([s, undefined, undefined])
    return w
  }
  push(t: number, x: number) { this.arena.pushRow(t, Float64Array.of(x, -x, x), 0) }
  evict(t: number) { this.arena.pushRow(t, Float64Array.of(NaN, NaN, NaN), 0) }
  enable(m: boolean, e: boolean) { this.arena.enable(0, m, e) }
  snapshot() { return this.arena.snapshot(0) }
  count() { return r.wCount(this.arena.A, 0) }
  avg() { return r.wAvg(this.arena.A, 0) }
  sum() { return r.wSum(this.arena.A, 0) }
  stddev() { return r.wStddev(this.arena.A, 0) }
  min() { return r.wMin(this.arena.A, 0) }
  max() { return r.wMax(this.arena.A, 0) }
  first() { return r.wFirst(this.arena.A, 0) }
  last() { return r.wLast(this.arena.A, 0) }
  delta() { return r.wDelta(this.arena.A, 0) }
  rate() { return r.wRate(this.arena.A, 0) }
  zscore(x: number) { return r.wZscore(this.arena.A, 0, x) }
  /** The second window (3× longer, negated values). */
  second() { return { min: r.wMin(this.arena.A, H), max: r.wMax(this.arena.A, H), count: r.wCount(this.arena.A, H) } }
}

/** Brute force over the same definition: values with time in (tNewest - ms, tNewest]. */
const brute = (samples: Array<[number, number]>, ms: number) => {
  const tNow = samples.at(-1)![0]
  const xs = samples.filter(([t, x]) => t > tNow - ms && !Number.isNaN(x))
  if (xs.length === 0) return { count: 0, avg: NaN, sum: 0, stddev: NaN, min: NaN, max: NaN, first: NaN, last: NaN, delta: NaN, rate: NaN, zscore: 0 }
  const vals = xs.map(([, x]) => x)
  const n = vals.length
  const mean = vals.reduce((a, b) => a + b, 0) / n
  const sd = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / n)
  const first = vals[0]!
  const last = vals[n - 1]!
  const dt = xs[n - 1]![0] - xs[0]![0]
  return {
    count: n, avg: mean, sum: mean * n, stddev: sd, min: Math.min(...vals), max: Math.max(...vals), first, last,
    delta: last - first, rate: n >= 2 && dt > 0 ? ((last - first) * 1000) / dt : NaN, zscore: sd > 0 ? (last - mean) / sd : 0,
  }
}

const close = (a: number, b: number, scale: number) => (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) <= 1e-6 * Math.max(1, scale)

/**
 * Random reading sequences: time steps include zero (same timestamp), small and large gaps, and
 * backwards jumps (out of order). The actor clamps late readings to the newest time before they
 * reach windows; the test applies the same clamping, so windows only ever see non-decreasing times.
 */
const sequences = fc.array(
  fc.tuple(fc.oneof(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 2000, max: 40_000 }), fc.integer({ min: -3000, max: -1 })), fc.oneof({ weight: 9, arbitrary: fc.integer({ min: -1e7, max: 1e7 }).map((x) => x / 1000) }, { weight: 1, arbitrary: fc.constant(NaN) })),
  { minLength: 1, maxLength: 400, size: "medium" },
)

describe("WindowArena", () => {
  test("every incremental aggregate equals brute-force recomputation after every push", () => {
    fc.assert(
      fc.property(sequences, fc.constantFrom(1, 500, 1000, 10_000, 60_000), (steps, ms) => {
        const w = new SlidingWindow("x", ms, true, true)
        const seen: Array<[number, number]> = []
        let t = 1_700_000_000_000
        let newest = -Infinity
        for (const [dt, x] of steps) {
          t += dt
          const at = Math.max(t, newest) // lateness clamp, as the actor does
          newest = at
          w.push(at, x)
          seen.push([at, x])
          const b = brute(seen, ms)
          const scale = Math.max(0, ...seen.filter(([, y]) => !Number.isNaN(y)).map(([, y]) => Math.abs(y)))
          expect(w.count()).toBe(b.count)
          for (const k of ["avg", "sum", "stddev", "min", "max", "first", "last", "delta", "rate"] as const) {
            if (!close(w[k](), b[k], k === "sum" ? scale * b.count : scale)) throw new Error(`${k}: ${w[k]()} vs ${b[k]} (ms=${ms}, n=${seen.length})`)
          }
          const b2 = brute(seen, ms * 3)
          expect(w.second()).toEqual({ min: b2.count ? -b2.max : NaN, max: b2.count ? -b2.min : NaN, count: b2.count })
          // Running moments carry an absolute variance error of about eps·scale² once large values
          // left the window, so a z-score is only comparable while stddev ≫ sqrt(eps)·scale.
          if (!Number.isNaN(x) && b.stddev > 1e-4 * scale && !close(w.zscore(x), b.zscore, 1 + Math.abs(b.zscore))) throw new Error(`zscore ${w.zscore(x)} vs ${b.zscore}`)
        }
      }),
      { numRuns: 300 },
    )
  })

  test("aggregates enabled later are rebuilt exactly from the buffered values", () => {
    fc.assert(
      fc.property(sequences, (steps) => {
        const a = new SlidingWindow("x", 5000, false, false)
        const b = new SlidingWindow("x", 5000, true, true)
        let t = 0
        for (const [dt, x] of steps) {
          t += Math.abs(dt)
          a.push(t, x)
          b.push(t, x)
        }
        a.enable(true, true)
        expect(a.min()).toBe(b.min())
        expect(a.max()).toBe(b.max())
        expect(close(a.avg(), b.avg(), 1e4)).toBe(true)
        expect(close(a.stddev(), b.stddev(), 1e4)).toBe(true)
      }),
      { numRuns: 100 },
    )
  })

  test("snapshot and restore continue bit for bit like the original", () => {
    fc.assert(
      fc.property(sequences, sequences, (before, after) => {
        const w = new SlidingWindow("x", 3000, true, true)
        let t = 0
        for (const [dt, x] of before) w.push((t += Math.abs(dt)), x)
        const r = SlidingWindow.restore(structuredClone(w.snapshot()), 3000, true, true)
        for (const [dt, x] of after) {
          t += Math.abs(dt)
          w.push(t, x)
          r.push(t, x)
          for (const k of ["count", "avg", "sum", "stddev", "min", "max", "first", "last", "rate"] as const) expect(r[k]()).toBe(w[k]())
        }
      }),
      { numRuns: 100 },
    )
  })

  test("snapshotAll copies each duration's timeline once, and it, per-window snapshots and plain number arrays all restore alike", () => {
    fc.assert(
      fc.property(sequences, sequences, (before, after) => {
        const w = new SlidingWindow("x", 3000, true, true)
        let t = 0
        for (const [dt, x] of before) w.push((t += Math.abs(dt)), x)
        const all = w.arena.snapshotAll()
        expect(all.timelines.length).toBe(2) // windows 0 and 2 share 3 s; window 1 has 9 s
        expect(all.windows[0]!.timeline).toBe(all.windows[2]!.timeline)
        const plain = (s: WindowSnapshot): WindowSnapshot => ({ ...s, ts: Array.from(s.ts), xs: Array.from(s.xs) })
        const forms = [
          [0, 1, 2].map((k) => windowOf(all, k)),
          [0, 1, 2].map((k) => w.arena.snapshot(k)),
          [0, 1, 2].map((k) => plain(w.arena.snapshot(k))),
        ]
        const copies = forms.map((snaps) => {
          const c = new SlidingWindow("x", 3000, true, true)
          c.arena.loadAll(snaps)
          return c
        })
        for (const [dt, x] of after) {
          t += Math.abs(dt)
          for (const c of [w, ...copies]) c.push(t, x)
          for (const c of copies) {
            for (const k of ["count", "avg", "sum", "stddev", "min", "max", "first", "last", "rate"] as const) expect(c[k]()).toBe(w[k]())
            expect(c.second()).toEqual(w.second())
          }
        }
      }),
      { numRuns: 100 },
    )
  })

  test("an empty window answers NaN for values and 0 for count and sum", () => {
    const w = new SlidingWindow("x", 1000, true, true)
    expect(w.count()).toBe(0)
    expect(w.sum()).toBe(0)
    for (const k of ["avg", "min", "max", "first", "last", "stddev", "rate"] as const) expect(w[k]()).toBeNaN()
    w.push(0, 5)
    w.evict(5000)
    expect(w.count()).toBe(0)
    expect(w.avg()).toBeNaN()
  })

  test("an arena is exactly as large as the size model the rule limits are checked with", () => {
    const needs: WindowNeeds[] = [
      { field: 0, ms: 10_000, moments: true, extremes: false }, { field: 1, ms: 10_000, moments: false, extremes: true },
      { field: 2, ms: 60_000, moments: true, extremes: true }, { field: 3, ms: 1_000, moments: false, extremes: false },
    ]
    for (const hz of [1, 2, 50]) expect(new WindowArena(needs, hz).A.byteLength).toBe(arenaBytes(needs, hz))
  })
})
