import { H } from "../../../config/rules/window-layout.ts"
import { wAvg, wCount, wDelta, wFirst, wLast, wMax, wMin, wRate, wStddev, wSum, wZscore, type WindowArena } from "./arena.ts"

/** Aggregate readers by name, as generated code sees them (link.ts). */
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
