import { H } from "../../../config/rules/window-layout.ts"
import type { WindowArena } from "./arena.ts"
import { CAP, FIRST, G, LAST, M2, MAXH, MAXT, MEAN, MINH, MINT, N, QOFF, tAt, xAt } from "./layout.ts"

/**
 * Window aggregates read straight from a device's arena: `h` is the window's header (`k * H`).
 * Generated rule code calls them by name (config/rules/plan.ts `planHelpers`); queries use
 * {@link windowAggregates}.
 */
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

/** Aggregate readers by name, as generated code sees them. */
export const windowReaders = { wCount, wAvg, wSum, wStddev, wZscore, wMin, wMax, wFirst, wLast, wDelta, wRate } as const


const num = (x: number) => (Number.isFinite(x) ? x : null)

/**
 * The aggregates window k maintains, for queries (JSON-able: null where undefined): count, first,
 * last, delta and rate always; avg, sum and stddev with running moments; min and max with deques.
 */
export const windowAggregates = (arena: WindowArena, k: number, spec: { readonly moments: boolean; readonly extremes: boolean }): Record<string, number | null> => {
  const A = arena.A
  const h = k * H
  const agg: Record<string, number | null> = { count: wCount(A, h), first: num(wFirst(A, h)), last: num(wLast(A, h)), delta: num(wDelta(A, h)), rate: num(wRate(A, h)) }
  if (spec.moments) Object.assign(agg, { avg: num(wAvg(A, h)), sum: num(wSum(A, h)), stddev: num(wStddev(A, h)) })
  if (spec.extremes) Object.assign(agg, { min: num(wMin(A, h)), max: num(wMax(A, h)) })
  return agg
}
