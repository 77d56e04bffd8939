/**
 * Event-time sliding windows of one device, all in one Float64Array (the arena), so a reading
 * touches a few adjacent header lines plus two ring slots per window instead of chasing an object,
 * a typed-array header and its data for each window. Compiled rules read aggregates straight from
 * the arena with the `w*` functions below (monomorphic, inlined by the JIT).
 *
 * Per window k, a header of {@link H} doubles at `k * H`; its ring of (time, value) pairs at
 * `off`, and, when min/max are needed, two monotonic deques of absolute indices at `qoff`.
 * Means and variances use Welford's update with removal, re-anchored from the ring every 4096
 * updates to bound drift. Every push and eviction is O(1) amortised; times must not decrease.
 */
export const H = 16
const OFF = 0, CAP = 1, START = 2, END = 3, MEAN = 4, M2 = 5, UPD = 6, MINH = 7, MINT = 8, MAXH = 9, MAXT = 10, QOFF = 11, MS = 12, MOM = 13
const recomputeEvery = 4096

/** What a window must maintain. */
export interface WindowNeeds {
  readonly ms: number
  readonly moments: boolean
  readonly extremes: boolean
}

/** Plain-data form of one window (msgpack-able); restores bit for bit. */
export interface WindowSnapshot {
  readonly ts: number[]
  readonly xs: number[]
  readonly mean: number
  readonly m2: number
  readonly updates: number
  /** Whether mean/m2 were maintained (otherwise they are recomputed on load). */
  readonly moments: boolean
}

const tAt = (A: Float64Array, h: number, abs: number) => A[A[h + OFF]! + ((abs & (A[h + CAP]! - 1)) << 1)]!
const xAt = (A: Float64Array, h: number, abs: number) => A[A[h + OFF]! + ((abs & (A[h + CAP]! - 1)) << 1) + 1]!

/** Number of values in window at header `h`. */
export const wCount = (A: Float64Array, h: number): number => A[h + END]! - A[h + START]!
export const wAvg = (A: Float64Array, h: number): number => (A[h + END]! > A[h + START]! ? A[h + MEAN]! : NaN)
export const wSum = (A: Float64Array, h: number): number => (A[h + END]! > A[h + START]! ? A[h + MEAN]! * (A[h + END]! - A[h + START]!) : 0)
export const wStddev = (A: Float64Array, h: number): number => {
  const n = A[h + END]! - A[h + START]!
  return n > 0 ? Math.sqrt(A[h + M2]! / n) : NaN
}
export const wZscore = (A: Float64Array, h: number, x: number): number => {
  const sd = wStddev(A, h)
  return sd > 0 ? (x - A[h + MEAN]!) / sd : 0
}
export const wMin = (A: Float64Array, h: number): number =>
  A[h + MINT]! > A[h + MINH]! ? xAt(A, h, A[A[h + QOFF]! + (A[h + MINH]! & (A[h + CAP]! - 1))]!) : NaN
export const wMax = (A: Float64Array, h: number): number =>
  A[h + MAXT]! > A[h + MAXH]! ? xAt(A, h, A[A[h + QOFF]! + A[h + CAP]! + (A[h + MAXH]! & (A[h + CAP]! - 1))]!) : NaN
export const wFirst = (A: Float64Array, h: number): number => (A[h + END]! > A[h + START]! ? xAt(A, h, A[h + START]!) : NaN)
export const wLast = (A: Float64Array, h: number): number => (A[h + END]! > A[h + START]! ? xAt(A, h, A[h + END]! - 1) : NaN)
export const wDelta = (A: Float64Array, h: number): number => wLast(A, h) - wFirst(A, h)
export const wRate = (A: Float64Array, h: number): number => {
  if (A[h + END]! - A[h + START]! < 2) return NaN
  const dt = tAt(A, h, A[h + END]! - 1) - tAt(A, h, A[h + START]!)
  return dt > 0 ? (wDelta(A, h) * 1000) / dt : NaN
}

/** Aggregate readers by name, for code generation and queries. */
export const windowReaders = { wCount, wAvg, wSum, wStddev, wZscore, wMin, wMax, wFirst, wLast, wDelta, wRate } as const

/** A device's windows. `A` may be replaced when a ring grows: read it after every push. */
export class WindowArena {
  A: Float64Array
  readonly n: number

  /**
   * `expectedHz` sizes each ring for the readings its duration holds at that rate, so a device
   * reporting as expected never re-lays its arena; faster devices grow rings by doubling.
   */
  constructor(needs: ReadonlyArray<WindowNeeds>, expectedHz = 2) {
    this.n = needs.length
    this.A = WindowArena.layout(needs.map((w) => ({ cap: capFor(Math.ceil((w.ms / 1000) * expectedHz) + 2), extremes: w.extremes })), new Float64Array(0), this.n)
    needs.forEach((w, k) => {
      this.A[k * H + MS] = w.ms
      this.A[k * H + MOM] = w.moments ? 1 : 0
    })
  }

  /** Allocates an arena for the given ring sizes, copying headers from `old` where present (offsets are rewritten). */
  private static layout(rings: ReadonlyArray<{ cap: number; extremes: boolean }>, old: Float64Array, n: number): Float64Array {
    let size = n * H
    const offs = rings.map((r) => {
      const off = size
      size += r.cap * 2 + (r.extremes ? r.cap * 2 : 0)
      return off
    })
    const A = new Float64Array(size)
    if (old.length) A.set(old.subarray(0, n * H))
    rings.forEach((r, k) => {
      A[k * H + OFF] = offs[k]!
      A[k * H + CAP] = r.cap
      A[k * H + QOFF] = r.extremes ? offs[k]! + r.cap * 2 : -1
    })
    return A
  }

  /** Reads the lines the next push touches (headers, oldest and newest slots) so the CPU fetches them in parallel. */
  touch(): number {
    const A = this.A
    let s = 0
    for (let h = 0; h < this.n * H; h += H) {
      const off = A[h + OFF]!
      const m = A[h + CAP]! - 1
      s += A[off + ((A[h + START]! & m) << 1)]! + A[off + ((A[h + END]! & m) << 1)]!
    }
    return s
  }

  /** Adds value `x` at event time `t` to window k and evicts what falls out. */
  push(k: number, t: number, x: number): void {
    this.evict(k, t)
    const h = k * H
    if (this.A[h + END]! - this.A[h + START]! >= this.A[h + CAP]!) this.grow(k)
    const A = this.A
    const m = A[h + CAP]! - 1
    const off = A[h + OFF]!
    const abs = A[h + END]!
    const i = off + ((abs & m) << 1)
    A[i] = t
    A[i + 1] = x
    A[h + END] = abs + 1
    if (A[h + MOM] === 1) {
      const upd = A[h + UPD]! + 1
      A[h + UPD] = upd
      if (upd % recomputeEvery === 0) this.recompute(k)
      else {
        const n = abs + 1 - A[h + START]!
        const mean = A[h + MEAN]!
        const d = x - mean
        const mean2 = mean + d / n
        A[h + MEAN] = mean2
        A[h + M2] = A[h + M2]! + d * (x - mean2)
      }
    }
    const q = A[h + QOFF]!
    if (q >= 0) {
      const cap = m + 1
      let tail = A[h + MINT]!
      const headMin = A[h + MINH]!
      while (tail > headMin && A[off + ((A[q + ((tail - 1) & m)]! & m) << 1) + 1]! >= x) tail--
      A[q + (tail & m)] = abs
      A[h + MINT] = tail + 1
      tail = A[h + MAXT]!
      const headMax = A[h + MAXH]!
      while (tail > headMax && A[off + ((A[q + cap + ((tail - 1) & m)]! & m) << 1) + 1]! <= x) tail--
      A[q + cap + (tail & m)] = abs
      A[h + MAXT] = tail + 1
    }
  }

  /** Drops values of window k at or before `t - ms`. */
  evict(k: number, t: number): void {
    const A = this.A
    const h = k * H
    const limit = t - A[h + MS]!
    const m = A[h + CAP]! - 1
    const off = A[h + OFF]!
    let start = A[h + START]!
    const end = A[h + END]!
    if (start === end || A[off + ((start & m) << 1)]! > limit) return
    const mom = A[h + MOM] === 1
    const q = A[h + QOFF]!
    while (start < end && A[off + ((start & m) << 1)]! <= limit) {
      const x = A[off + ((start & m) << 1) + 1]!
      const abs = start++
      if (mom) {
        const n = end - start
        if (n === 0) { A[h + MEAN] = 0; A[h + M2] = 0 }
        else {
          const mean = A[h + MEAN]!
          const d = x - mean
          const mean2 = mean - d / n
          A[h + MEAN] = mean2
          const m2 = A[h + M2]! - d * (x - mean2)
          A[h + M2] = m2 < 0 ? 0 : m2
        }
      }
      if (q >= 0) {
        if (A[h + MINT]! > A[h + MINH]! && A[q + (A[h + MINH]! & m)] === abs) A[h + MINH]!++
        if (A[h + MAXT]! > A[h + MAXH]! && A[q + m + 1 + (A[h + MAXH]! & m)] === abs) A[h + MAXH]!++
      }
    }
    A[h + START] = start
  }

  /** Turns on aggregates for window k, rebuilt exactly from its ring. */
  enable(k: number, moments: boolean, extremes: boolean): void {
    const h = k * H
    if (moments && this.A[h + MOM] !== 1) {
      this.A[h + MOM] = 1
      this.recompute(k)
    }
    if (extremes && this.A[h + QOFF]! < 0) this.grow(k, 1, true)
  }

  /** Plain-data copy of window k (oldest first). */
  snapshot(k: number): WindowSnapshot {
    const A = this.A
    const h = k * H
    const ts: number[] = []
    const xs: number[] = []
    for (let a = A[h + START]!; a < A[h + END]!; a++) { ts.push(tAt(A, h, a)); xs.push(xAt(A, h, a)) }
    return { ts, xs, mean: A[h + MEAN]!, m2: A[h + M2]!, updates: A[h + UPD]!, moments: A[h + MOM] === 1 }
  }

  /** Fills empty window k from a snapshot; running moments are restored bit for bit. */
  load(k: number, s: WindowSnapshot): void {
    const h = k * H
    const mom = this.A[h + MOM]!
    this.A[h + MOM] = 0
    for (let i = 0; i < s.ts.length; i++) this.push(k, s.ts[i]!, s.xs[i]!)
    this.A[h + MOM] = mom
    this.A[h + UPD] = s.updates
    if (mom !== 1) return
    if (s.moments) {
      this.A[h + MEAN] = s.mean
      this.A[h + M2] = s.m2
    } else this.recompute(k)
  }

  private recompute(k: number): void {
    const A = this.A
    const h = k * H
    let mean = 0
    let m2 = 0
    let n = 0
    for (let a = A[h + START]!; a < A[h + END]!; a++) {
      const x = xAt(A, h, a)
      n++
      const d = x - mean
      mean += d / n
      m2 += d * (x - mean)
    }
    A[h + MEAN] = mean
    A[h + M2] = m2
  }

  /** Re-lays the arena with window k's ring `factor`× larger (and deques added when `addDeques`). */
  private grow(k: number, factor = 2, addDeques = false): void {
    const old = this.A
    const rings = Array.from({ length: this.n }, (_, j) => ({
      cap: old[j * H + CAP]! * (j === k ? factor : 1),
      extremes: old[j * H + QOFF]! >= 0 || (j === k && addDeques),
    }))
    const A = WindowArena.layout(rings, old, this.n)
    for (let j = 0; j < this.n; j++) {
      const h = j * H
      for (let a = old[h + START]!; a < old[h + END]!; a++) {
        const i = A[h + OFF]! + ((a & (A[h + CAP]! - 1)) << 1)
        A[i] = tAt(old, h, a)
        A[i + 1] = xAt(old, h, a)
      }
      if (A[h + QOFF]! >= 0) this.rebuildDeques(A, h)
    }
    this.A = A
  }

  private rebuildDeques(A: Float64Array, h: number): void {
    const q = A[h + QOFF]!
    const m = A[h + CAP]! - 1
    let minT = 0, maxT = 0
    const start = A[h + START]!
    // Deque positions are absolute counters; start them at the window's start so masks line up.
    let minH = start, maxH = start
    minT = maxT = start
    for (let abs = start; abs < A[h + END]!; abs++) {
      const x = xAt(A, h, abs)
      while (minT > minH && xAt(A, h, A[q + ((minT - 1) & m)]!) >= x) minT--
      A[q + (minT++ & m)] = abs
      while (maxT > maxH && xAt(A, h, A[q + m + 1 + ((maxT - 1) & m)]!) <= x) maxT--
      A[q + m + 1 + (maxT++ & m)] = abs
    }
    A[h + MINH] = minH; A[h + MINT] = minT; A[h + MAXH] = maxH; A[h + MAXT] = maxT
  }
}

const capFor = (n: number) => {
  let cap = 16
  while (cap < n) cap *= 2
  return cap
}
