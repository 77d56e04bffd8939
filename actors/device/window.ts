import type { WindowView } from "../../config/rules/index.ts"

/** Plain-data form of a window for snapshots (msgpack-able). */
export interface WindowSnapshot {
  readonly key: string
  readonly ts: number[]
  readonly xs: number[]
  readonly mean: number
  readonly m2: number
  readonly updates: number
}

const recomputeEvery = 4096

/**
 * An event-time sliding window over one field: every value of the last `ms` milliseconds in a
 * ring buffer, with optional running mean/variance (Welford with removal, re-anchored from the
 * buffer every 4096 updates to bound drift) and monotonic deques for min and max. Every push and
 * eviction is O(1) amortised. Times must not decrease (the actor clamps late readings).
 */
export class SlidingWindow implements WindowView {
  // Layout for cache locality: one buffer of (time, value) pairs, one buffer holding both deques
  // (min in [0, cap), max in [cap, 2cap)). A device has a dozen windows and readings of a
  // thousand other devices come in between, so every extra cache line per push shows up.
  private b: Float64Array
  private q: Float64Array
  private mask: number
  private start = 0
  private end = 0
  private mean_ = 0
  private m2 = 0
  private updates = 0
  private minH = 0
  private minT = 0
  private maxH = 0
  private maxT = 0

  constructor(readonly key: string, readonly ms: number, private moments: boolean, private extremes: boolean, capacity = 16) {
    let cap = 16
    while (cap < capacity) cap *= 2
    this.mask = cap - 1
    this.b = new Float64Array(cap * 2)
    this.q = new Float64Array(extremes ? cap * 2 : 0)
  }

  /** Adds value `x` at event time `t` (non-decreasing) and evicts values at or before `t - ms`. */
  push(t: number, x: number): void {
    this.evict(t)
    if (this.end - this.start > this.mask) this.grow()
    const m = this.mask
    const b = this.b
    const i = (this.end & m) << 1
    b[i] = t
    b[i + 1] = x
    const abs = this.end++
    if (this.moments) {
      if (++this.updates % recomputeEvery === 0) this.recompute()
      else {
        const n = this.end - this.start
        const d = x - this.mean_
        this.mean_ += d / n
        this.m2 += d * (x - this.mean_)
      }
    }
    if (this.extremes) {
      const q = this.q
      const cap = m + 1
      while (this.minT > this.minH && b[((q[(this.minT - 1) & m]! & m) << 1) + 1]! >= x) this.minT--
      q[this.minT++ & m] = abs
      while (this.maxT > this.maxH && b[((q[cap + ((this.maxT - 1) & m)]! & m) << 1) + 1]! <= x) this.maxT--
      q[cap + (this.maxT++ & m)] = abs
    }
  }

  /**
   * Reads the cache lines the next push will touch (oldest and newest pair, deque heads) and
   * returns a meaningless sum. Calling it for all of a device's windows before pushing lets the
   * CPU fetch them in parallel instead of one dependent miss chain per window.
   */
  touch(): number {
    const m = this.mask
    const b = this.b
    const s = b[(this.start & m) << 1]! + b[((this.end - 1) & m) << 1]!
    return this.extremes ? s + this.q[this.minH & m]! + this.q[m + 1 + (this.maxH & m)]! : s
  }

  /** Drops values older than the window at time `t`. */
  evict(t: number): void {
    const limit = t - this.ms
    const m = this.mask
    const b = this.b
    while (this.start < this.end && b[(this.start & m) << 1]! <= limit) {
      const x = b[((this.start & m) << 1) + 1]!
      const abs = this.start++
      if (this.moments) {
        const n = this.end - this.start
        if (n === 0) { this.mean_ = 0; this.m2 = 0 }
        else {
          const d = x - this.mean_
          this.mean_ -= d / n
          this.m2 -= d * (x - this.mean_)
          if (this.m2 < 0) this.m2 = 0
        }
      }
      if (this.extremes) {
        if (this.minT > this.minH && this.q[this.minH & m] === abs) this.minH++
        if (this.maxT > this.maxH && this.q[m + 1 + (this.maxH & m)] === abs) this.maxH++
      }
    }
  }

  private x(abs: number): number { return this.b[((abs & this.mask) << 1) + 1]! }
  private t(abs: number): number { return this.b[(abs & this.mask) << 1]! }

  count(): number { return this.end - this.start }
  avg(): number { return this.end > this.start ? this.mean_ : NaN }
  sum(): number { return this.end > this.start ? this.mean_ * (this.end - this.start) : 0 }
  stddev(): number {
    const n = this.end - this.start
    return n > 0 ? Math.sqrt(this.m2 / n) : NaN
  }
  zscore(x: number): number {
    const sd = this.stddev()
    return sd > 0 ? (x - this.mean_) / sd : 0
  }
  min(): number { return this.minT > this.minH ? this.x(this.q[this.minH & this.mask]!) : NaN }
  max(): number { return this.maxT > this.maxH ? this.x(this.q[this.mask + 1 + (this.maxH & this.mask)]!) : NaN }
  first(): number { return this.end > this.start ? this.x(this.start) : NaN }
  last(): number { return this.end > this.start ? this.x(this.end - 1) : NaN }
  delta(): number { return this.last() - this.first() }
  rate(): number {
    if (this.end - this.start < 2) return NaN
    const dt = this.t(this.end - 1) - this.t(this.start)
    return dt > 0 ? (this.delta() * 1000) / dt : NaN
  }
  /** Whether running mean/variance and min/max deques are maintained. */
  get maintains(): { readonly moments: boolean; readonly extremes: boolean } {
    return { moments: this.moments, extremes: this.extremes }
  }

  /** Turns on aggregates a new rule set needs, rebuilding them exactly from the buffered values. */
  enable(moments: boolean, extremes: boolean): void {
    const m = moments && !this.moments
    const e = extremes && !this.extremes
    this.moments ||= moments
    this.extremes ||= extremes
    if (m) this.recompute()
    if (e) this.rebuildDeques()
  }

  /** Plain-data copy (oldest first). */
  snapshot(): WindowSnapshot {
    const ts: number[] = []
    const xs: number[] = []
    for (let a = this.start; a < this.end; a++) { ts.push(this.t(a)); xs.push(this.x(a)) }
    return { key: this.key, ts, xs, mean: this.mean_, m2: this.m2, updates: this.updates }
  }

  /** Rebuilds a window from {@link snapshot}; running moments are restored bit for bit. */
  static restore(s: WindowSnapshot, ms: number, moments: boolean, extremes: boolean): SlidingWindow {
    const w = new SlidingWindow(s.key, ms, false, false, s.ts.length + 1)
    for (let i = 0; i < s.ts.length; i++) w.push(s.ts[i]!, s.xs[i]!)
    w.enable(false, extremes)
    w.moments = moments
    w.mean_ = s.mean
    w.m2 = s.m2
    w.updates = s.updates
    return w
  }

  private recompute(): void {
    let mean = 0
    let m2 = 0
    let n = 0
    for (let a = this.start; a < this.end; a++) {
      const x = this.x(a)
      n++
      const d = x - mean
      mean += d / n
      m2 += d * (x - mean)
    }
    this.mean_ = mean
    this.m2 = m2
  }

  private rebuildDeques(): void {
    const m = this.mask
    const cap = m + 1
    if (this.q.length !== cap * 2) this.q = new Float64Array(cap * 2)
    const q = this.q
    this.minH = this.minT = this.maxH = this.maxT = 0
    for (let abs = this.start; abs < this.end; abs++) {
      const x = this.x(abs)
      while (this.minT > this.minH && this.x(q[(this.minT - 1) & m]!) >= x) this.minT--
      q[this.minT++ & m] = abs
      while (this.maxT > this.maxH && this.x(q[cap + ((this.maxT - 1) & m)]!) <= x) this.maxT--
      q[cap + (this.maxT++ & m)] = abs
    }
  }

  private grow(): void {
    const cap = (this.mask + 1) * 2
    const b = new Float64Array(cap * 2)
    for (let a = this.start; a < this.end; a++) {
      const i = (a & (cap - 1)) << 1
      b[i] = this.t(a)
      b[i + 1] = this.x(a)
    }
    this.b = b
    this.mask = cap - 1
    if (this.extremes) this.rebuildDeques()
  }
}
