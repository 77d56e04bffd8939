import { capFor, H, HG, ringCapFor, type WindowNeeds } from "../../../config/rules/window-layout.ts"
import type { ArenaSnapshot, WindowColumn, WindowSnapshot } from "./snapshot.ts"

// window (member) header: offsets in the H doubles at `k * H` (sizes: config/rules/window-layout.ts)
const MEAN = 0, M2 = 1, UPD = 2, N = 3, FIRST = 4, LAST = 5, MINH = 6, MINT = 7, MAXH = 8, MAXT = 9, QOFF = 10, G = 11, COL = 12, FLD = 13, MOM = 14
// group header: offsets in the HG doubles of a duration group
const OFF = 0, CAP = 1, START = 2, END = 3, MS = 4, STRIDE = 5
const recomputeEvery = 4096

// Offsets are module constants here, next to every reader of them, so the JIT folds them: the
// readers below run inside generated rule code for every reading.
const slot = (A: Float64Array, g: number, abs: number) => A[g + OFF]! + (abs & (A[g + CAP]! - 1)) * A[g + STRIDE]!
const xAt = (A: Float64Array, h: number, abs: number) => A[slot(A, A[h + G]!, abs) + A[h + COL]!]!
const tAt = (A: Float64Array, h: number, abs: number) => A[slot(A, A[h + G]!, abs)]!

/** Copies the min and max deques of the window at header h from arena `from` into `to`, whose ring capacity may differ. */
const copyDeques = (from: Float64Array, to: Float64Array, h: number): void => {
  const g = from[h + G]!
  const q0 = from[h + QOFF]!, c0 = from[g + CAP]!, m0 = c0 - 1
  const q1 = to[h + QOFF]!, c1 = to[g + CAP]!, m1 = c1 - 1
  for (let i = to[h + MINH]!; i < to[h + MINT]!; i++) to[q1 + (i & m1)] = from[q0 + (i & m0)]!
  for (let i = to[h + MAXH]!; i < to[h + MAXT]!; i++) to[q1 + c1 + (i & m1)] = from[q0 + c0 + (i & m0)]!
}

/** Aggregates of the window whose header is at `h` (`k * H`); generated rule code calls them by name (config/rules/plan.ts `planHelpers`). */
export const wCount = (A: Float64Array, h: number): number => A[h + N]!
export const wAvg = (A: Float64Array, h: number): number => (A[h + N]! > 0 ? A[h + MEAN]! : NaN)
export const wSum = (A: Float64Array, h: number): number => (A[h + N]! > 0 ? A[h + MEAN]! * A[h + N]! : 0)
export const wStddev = (A: Float64Array, h: number): number => (A[h + N]! > 0 ? Math.sqrt(A[h + M2]! / A[h + N]!) : NaN)
export const wZscore = (A: Float64Array, h: number, x: number): number => {
  const sd = wStddev(A, h)
  return sd > 0 ? (x - A[h + MEAN]!) / sd : 0
}
const cap = (A: Float64Array, h: number) => A[A[h + G]! + CAP]!
export const wMin = (A: Float64Array, h: number): number =>
  A[h + MINT]! > A[h + MINH]! ? xAt(A, h, A[A[h + QOFF]! + (A[h + MINH]! & (cap(A, h) - 1))]!) : NaN
export const wMax = (A: Float64Array, h: number): number =>
  A[h + MAXT]! > A[h + MAXH]! ? xAt(A, h, A[A[h + QOFF]! + cap(A, h) + (A[h + MAXH]! & (cap(A, h) - 1))]!) : NaN
export const wFirst = (A: Float64Array, h: number): number => (A[h + N]! > 0 ? xAt(A, h, A[h + FIRST]!) : NaN)
export const wLast = (A: Float64Array, h: number): number => (A[h + N]! > 0 ? xAt(A, h, A[h + LAST]!) : NaN)
export const wDelta = (A: Float64Array, h: number): number => wLast(A, h) - wFirst(A, h)
export const wRate = (A: Float64Array, h: number): number => {
  if (A[h + N]! < 2) return NaN
  const dt = tAt(A, h, A[h + LAST]!) - tAt(A, h, A[h + FIRST]!)
  return dt > 0 ? (wDelta(A, h) * 1000) / dt : NaN
}

interface Group {
  readonly gh: number
  readonly ms: number
  readonly members: number[]
}

/**
 * Event-time sliding windows of one device, all in one Float64Array (the arena). Windows of the
 * same duration share one ring of slots `[time, value of each member field]`, so a reading writes
 * one slot per duration and an eviction reads one, instead of one per window: with a thousand
 * devices interleaved, the per-reading cost is cache misses, and this keeps them few. Compiled
 * rules read aggregates straight from the arena with the `w*` functions below.
 *
 * Layout (sizes: config/rules/window-layout.ts, offsets below): member (window) k has a
 * header of H doubles at `k * H`; then group headers; then per group its ring (`cap` slots of
 * `stride` doubles) and, for members that need min/max, two monotonic deques of absolute slot
 * indexes. Members skip NaN (a field a reading did not carry).
 * Means/variances use Welford's update with removal, re-anchored from the ring every 4096 updates
 * to bound drift. Push and eviction are O(1) amortised; times must not decrease.
 *
 * `A` may be replaced when a ring grows: read it after every push.
 */
export class WindowArena {
  A: Float64Array
  readonly n: number
  private readonly groups: Group[]

  /** `expectedHz` sizes each ring for the readings its duration holds at that rate; faster devices grow rings by doubling. */
  constructor(needs: ReadonlyArray<WindowNeeds>, expectedHz = 2) {
    this.n = needs.length
    const byMs = new Map<number, number[]>()
    needs.forEach((w, k) => byMs.set(w.ms, [...(byMs.get(w.ms) ?? []), k]))
    this.groups = [...byMs].map(([ms, members], g) => ({ gh: this.n * H + g * HG, ms, members }))
    const caps = this.groups.map((g) => ringCapFor(g.ms, expectedHz))
    this.A = new Float64Array(0)
    const A = this.layout(caps, needs.map((w) => w.extremes))
    needs.forEach((w, k) => {
      const h = k * H
      A[h + FLD] = w.field
      A[h + MOM] = w.moments ? 1 : 0
    })
    for (const g of this.groups) {
      A[g.gh + MS] = g.ms
      A[g.gh + STRIDE] = g.members.length + 1
      g.members.forEach((k, i) => { A[k * H + G] = g.gh; A[k * H + COL] = i + 1 })
    }
    this.A = A
  }

  /** A fresh arena with the given ring capacities, headers copied from the current one; rings are not copied. */
  private layout(caps: ReadonlyArray<number>, extremes: ReadonlyArray<boolean>): Float64Array {
    let size = this.n * H + this.groups.length * HG
    const offs = this.groups.map((g, i) => {
      const off = size
      size += caps[i]! * (g.members.length + 1)
      return off
    })
    const qoffs = extremes.map((e, k) => {
      if (!e) return -1
      const q = size
      size += 2 * caps[this.groups.findIndex((g) => g.members.includes(k))]!
      return q
    })
    const A = new Float64Array(size)
    A.set(this.A.subarray(0, this.n * H + this.groups.length * HG))
    this.groups.forEach((g, i) => { A[g.gh + OFF] = offs[i]!; A[g.gh + CAP] = caps[i]! })
    qoffs.forEach((q, k) => { A[k * H + QOFF] = q })
    return A
  }

  /** Reads the lines the next push touches (oldest and next slot of each group) so the CPU fetches them in parallel. */
  touch(): number {
    const A = this.A
    let s = A[0]!
    for (let i = 0; i < this.groups.length; i++) {
      const g = this.groups[i]!.gh
      s += A[slot(A, g, A[g + START]!)]! + A[slot(A, g, A[g + END]!)]!
    }
    return s
  }

  /** Adds reading row `v[o..]` at event time `t` to every window (NaN fields are skipped) and evicts what falls out. */
  pushRow(t: number, v: Float64Array, o: number): void {
    for (let i = 0; i < this.groups.length; i++) {
      const grp = this.groups[i]!
      const g = grp.gh
      this.evict(grp, t)
      if (this.A[g + END]! - this.A[g + START]! >= this.A[g + CAP]!) this.grow(i)
      const A = this.A
      const abs = A[g + END]!
      const s = slot(A, g, abs)
      A[s] = t
      const members = grp.members
      for (let j = 0; j < members.length; j++) {
        const h = members[j]! * H
        const x = v[o + A[h + FLD]!]!
        A[s + j + 1] = x
        if (x !== x) continue
        const n = A[h + N]! + 1
        A[h + N] = n
        A[h + LAST] = abs
        if (n === 1) A[h + FIRST] = abs
        if (A[h + MOM] === 1) {
          const upd = A[h + UPD]! + 1
          A[h + UPD] = upd
          const mean = A[h + MEAN]!
          const d = x - mean
          const mean2 = mean + d / n
          A[h + MEAN] = mean2
          A[h + M2] = A[h + M2]! + d * (x - mean2)
        }
        const q = A[h + QOFF]!
        if (q >= 0) {
          const c = A[g + CAP]!
          const m = c - 1
          let tail = A[h + MINT]!
          const headMin = A[h + MINH]!
          while (tail > headMin && A[slot(A, g, A[q + ((tail - 1) & m)]!) + j + 1]! >= x) tail--
          A[q + (tail & m)] = abs
          A[h + MINT] = tail + 1
          tail = A[h + MAXT]!
          const headMax = A[h + MAXH]!
          while (tail > headMax && A[slot(A, g, A[q + c + ((tail - 1) & m)]!) + j + 1]! <= x) tail--
          A[q + c + (tail & m)] = abs
          A[h + MAXT] = tail + 1
        }
      }
      A[g + END] = abs + 1
      for (let j = 0; j < members.length; j++) {
        const h = members[j]! * H
        if (A[h + MOM] === 1 && A[h + UPD]! >= recomputeEvery) this.recompute(h)
      }
    }
  }

  /** Evicts every window to time `t` without adding a value (timer ticks while a device is silent); true when anything was evicted. */
  evictAll(t: number): boolean {
    let any = false
    for (let i = 0; i < this.groups.length; i++) if (this.evict(this.groups[i]!, t)) any = true
    return any
  }

  /** Event time at which {@link evictAll} next has something to evict (the oldest value's time + its window); Infinity when every window is empty. */
  evictDue(): number {
    const A = this.A
    let due = Number.POSITIVE_INFINITY
    for (let i = 0; i < this.groups.length; i++) {
      const g = this.groups[i]!.gh
      if (A[g + START] !== A[g + END]) due = Math.min(due, A[slot(A, g, A[g + START]!)]! + A[g + MS]!)
    }
    return due
  }

  /** Evicts one group's values at or before `t` − its duration; false when there were none (nothing changed). */
  private evict(grp: Group, t: number): boolean {
    const A = this.A
    const g = grp.gh
    const limit = t - A[g + MS]!
    let start = A[g + START]!
    const end = A[g + END]!
    if (start === end || A[slot(A, g, start)]! > limit) return false
    const members = grp.members
    const m = A[g + CAP]! - 1
    while (start < end && A[slot(A, g, start)]! <= limit) {
      const s = slot(A, g, start)
      const abs = start++
      for (let j = 0; j < members.length; j++) {
        const h = members[j]! * H
        const x = A[s + j + 1]!
        if (x !== x) continue
        const n = A[h + N]! - 1
        A[h + N] = n
        if (A[h + MOM] === 1) {
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
        if (n > 0) {
          // the oldest value left; each slot is passed over at most once per member
          let f = abs + 1
          while (A[slot(A, g, f) + j + 1]! !== A[slot(A, g, f) + j + 1]!) f++
          A[h + FIRST] = f
        }
        const q = A[h + QOFF]!
        if (q >= 0) {
          if (A[h + MINT]! > A[h + MINH]! && A[q + (A[h + MINH]! & m)] === abs) A[h + MINH] = A[h + MINH]! + 1
          if (A[h + MAXT]! > A[h + MAXH]! && A[q + m + 1 + (A[h + MAXH]! & m)] === abs) A[h + MAXH] = A[h + MAXH]! + 1
        }
      }
    }
    A[g + START] = start
    return true
  }

  /** Turns on aggregates for window k, rebuilt exactly from its ring. */
  enable(k: number, moments: boolean, extremes: boolean): void {
    const h = k * H
    if (moments && this.A[h + MOM] !== 1) {
      this.A[h + MOM] = 1
      this.recompute(h)
    }
    if (extremes && this.A[h + QOFF]! < 0) this.relayout(this.groups.map((g) => this.A[g.gh + CAP]!), k)
  }

  /** Plain-data copy of window k: its group's timeline and its values on it. */
  snapshot(k: number): WindowSnapshot {
    const h = k * H
    const g = this.A[h + G]!
    return { ts: this.column(g, 0), ...this.windowColumn(h, -1) }
  }

  /** Copies every window; each duration's timeline is copied once (see {@link ArenaSnapshot}). */
  snapshotAll(): ArenaSnapshot {
    const timelines: Float64Array[] = []
    const windows = new Array<WindowColumn>(this.n)
    for (const grp of this.groups) {
      const i = timelines.push(this.column(grp.gh, 0)) - 1
      for (const k of grp.members) windows[k] = this.windowColumn(k * H, i)
    }
    return { timelines, windows }
  }

  private windowColumn(h: number, timeline: number): WindowColumn {
    const A = this.A
    return { timeline, xs: this.column(A[h + G]!, A[h + COL]!), mean: A[h + MEAN]!, m2: A[h + M2]!, updates: A[h + UPD]!, moments: A[h + MOM] === 1 }
  }

  /** Column `col` (0 = time) of group g's ring, oldest first, as a new array: a strided walk, no per-element allocation. */
  private column(g: number, col: number): Float64Array {
    const A = this.A
    const start = A[g + START]!
    const out = new Float64Array(A[g + END]! - start)
    const stride = A[g + STRIDE]!
    const ring = A[g + OFF]!
    const end = ring + A[g + CAP]! * stride
    let p = slot(A, g, start) + col
    for (let i = 0; i < out.length; i++) {
      out[i] = A[p]!
      p += stride
      if (p >= end) p -= end - ring
    }
    return out
  }

  /**
   * Fills a fresh arena from snapshots (index = window; undefined = start empty). Windows of one
   * duration share a timeline, taken from the first snapshot of the group; running moments are
   * restored bit for bit where they were maintained, recomputed otherwise.
   */
  loadAll(snaps: ReadonlyArray<WindowSnapshot | undefined>): void {
    const timelines = this.groups.map((grp) => grp.members.map((k) => snaps[k]).find((s) => s !== undefined)?.ts)
    // one re-layout for all rings, while they are still empty
    const caps = this.groups.map((g, i) => Math.max(this.A[g.gh + CAP]!, capFor((timelines[i]?.length ?? 0) + 1)))
    if (caps.some((c, i) => c !== this.A[this.groups[i]!.gh + CAP])) this.relayout(caps)
    this.groups.forEach((grp, i) => {
      const timeline = timelines[i]
      if (!timeline || timeline.length === 0) return
      const len = timeline.length
      const A = this.A
      const g = grp.gh
      // START = 0 and cap > len: slot a is at ring + a * stride, no wrap
      const ring = A[g + OFF]!
      const stride = A[g + STRIDE]!
      for (let a = 0; a < len; a++) A[ring + a * stride] = timeline[a]!
      grp.members.forEach((k, j) => {
        const snap = snaps[k]
        const xs = snap && snap.ts.length === len && snap.xs.length === len ? snap.xs : undefined
        for (let a = 0, p = ring + j + 1; a < len; a++, p += stride) A[p] = xs ? xs[a]! : NaN
      })
      A[g + START] = 0
      A[g + END] = len
      for (const k of grp.members) {
        const h = k * H
        this.rebuildMember(h)
        const snap = snaps[k]
        if (A[h + MOM] === 1 && snap?.moments && snap.ts.length === len) {
          A[h + MEAN] = snap.mean
          A[h + M2] = snap.m2
          A[h + UPD] = snap.updates
        }
      }
    })
  }

  /** Recounts N/FIRST/LAST, recomputes moments and deques of the member at header h from its ring. */
  private rebuildMember(h: number): void {
    const A = this.A
    const g = A[h + G]!
    const col = A[h + COL]!
    let n = 0
    for (let a = A[g + START]!; a < A[g + END]!; a++) {
      if (A[slot(A, g, a) + col]! !== A[slot(A, g, a) + col]!) continue
      if (n++ === 0) A[h + FIRST] = a
      A[h + LAST] = a
    }
    A[h + N] = n
    if (A[h + MOM] === 1) this.recompute(h)
    if (A[h + QOFF]! >= 0) this.rebuildDeques(A, h)
  }

  private recompute(h: number): void {
    const A = this.A
    const g = A[h + G]!
    const col = A[h + COL]!
    let mean = 0, m2 = 0, n = 0
    for (let a = A[g + START]!; a < A[g + END]!; a++) {
      const x = A[slot(A, g, a) + col]!
      if (x !== x) continue
      n++
      const d = x - mean
      mean += d / n
      m2 += d * (x - mean)
    }
    A[h + MEAN] = mean
    A[h + M2] = m2
    A[h + UPD] = 0
  }

  private rebuildDeques(A: Float64Array, h: number): void {
    const g = A[h + G]!
    const col = A[h + COL]!
    const q = A[h + QOFF]!
    const c = A[g + CAP]!
    const m = c - 1
    const start = A[g + START]!
    let minH = start, minT = start, maxH = start, maxT = start
    for (let abs = start; abs < A[g + END]!; abs++) {
      const x = A[slot(A, g, abs) + col]!
      if (x !== x) continue
      while (minT > minH && A[slot(A, g, A[q + ((minT - 1) & m)]!) + col]! >= x) minT--
      A[q + (minT++ & m)] = abs
      while (maxT > maxH && A[slot(A, g, A[q + c + ((maxT - 1) & m)]!) + col]! <= x) maxT--
      A[q + c + (maxT++ & m)] = abs
    }
    A[h + MINH] = minH; A[h + MINT] = minT; A[h + MAXH] = maxH; A[h + MAXT] = maxT
  }

  private grow(i: number): void {
    this.relayout(this.groups.map((g, j) => this.A[g.gh + CAP]! * (j === i ? 2 : 1)))
  }

  /**
   * Re-lays the arena with new ring capacities (and deques for window `addDeques`), copying every
   * ring and deque. Rows are copied in runs that wrap in neither ring (at most three per group, one
   * `set` each), and existing deques entry by entry: a copy row by row (a view per row) and deques
   * rebuilt from every row cost more than the pushes themselves while a fast device's rings grow.
   */
  private relayout(caps: ReadonlyArray<number>, addDeques = -1): void {
    const old = this.A
    const extremes = Array.from({ length: this.n }, (_, k) => old[k * H + QOFF]! >= 0 || k === addDeques)
    const A = this.layout(caps, extremes)
    for (const grp of this.groups) {
      const g = grp.gh
      const stride = old[g + STRIDE]!
      const end = old[g + END]!
      const oldCap = old[g + CAP]!
      const cap = A[g + CAP]!
      for (let a = old[g + START]!; a < end;) {
        const run = Math.min(end - a, oldCap - (a & (oldCap - 1)), cap - (a & (cap - 1)))
        const from = slot(old, g, a)
        A.set(old.subarray(from, from + run * stride), slot(A, g, a))
        a += run
      }
    }
    this.A = A
    for (let k = 0; k < this.n; k++) {
      if (!extremes[k]) continue
      if (old[k * H + QOFF]! >= 0) copyDeques(old, A, k * H)
      else this.rebuildDeques(A, k * H)
    }
  }
}
