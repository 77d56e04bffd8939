import type { WindowSpec } from "../../../config/rules/plan.ts"
import { WindowArena } from "./arena.ts"

/**
 * Plain-data form of one window (msgpack-able). `ts` is the timeline of its duration group (every
 * reading in the window), `xs` the field's values on it (NaN where a reading lacked the field).
 * The arena hands out Float64Arrays; plain number arrays (checkpoints written before) load as well.
 */
export interface WindowSnapshot {
  readonly ts: Float64Array | ReadonlyArray<number>
  readonly xs: Float64Array | ReadonlyArray<number>
  readonly mean: number
  readonly m2: number
  readonly updates: number
  readonly moments: boolean
}

/** One window of an {@link ArenaSnapshot}: its values on timeline `timeline` and its running moments. */
export interface WindowColumn {
  readonly timeline: number
  readonly xs: Float64Array
  readonly mean: number
  readonly m2: number
  readonly updates: number
  readonly moments: boolean
}

/**
 * Every window of an arena at once, compactly: one timeline per duration (windows of a duration
 * see the same readings), and per window (index = window) its column on one of them.
 */
export interface ArenaSnapshot {
  readonly timelines: ReadonlyArray<Float64Array>
  readonly windows: ReadonlyArray<WindowColumn>
}

/** Window k of an arena snapshot in the form `WindowArena.loadAll` takes (no copy). */
export const windowOf = (s: ArenaSnapshot, k: number): WindowSnapshot => {
  const w = s.windows[k]!
  return { ts: s.timelines[w.timeline]!, xs: w.xs, mean: w.mean, m2: w.m2, updates: w.updates, moments: w.moments }
}

/** The windows of a checkpointed device (version 1: a timeline per window; version 2: shared timelines) by key; undefined when their shape is wrong. */
export const windowsOfSnapshot = (s: {
  readonly v: 1 | 2
  readonly windows?: unknown
  readonly timelines?: unknown
}): Array<readonly [string, WindowSnapshot]> | undefined => {
  if (!Array.isArray(s.windows)) return undefined
  if (s.v === 1) return (s.windows as Array<WindowSnapshot & { readonly key: string }>).map((w) => [w.key, w] as const)
  const timelines = s.timelines
  if (!Array.isArray(timelines)) return undefined
  return (s.windows as Array<WindowColumn & { readonly key: string }>).flatMap((w) => {
    const ts = (timelines as Array<Float64Array | undefined>)[w.timeline]
    return ts ? [[w.key, { ts, xs: w.xs, mean: w.mean, m2: w.m2, updates: w.updates, moments: w.moments }] as const] : []
  })
}

/** A fresh arena for `windows`, with the content of every window whose key (field:duration) `old` has. */
export const carryWindows = (old: ReadonlyArray<readonly [string, WindowSnapshot]>, windows: ReadonlyArray<WindowSpec>): WindowArena => {
  const byKey = new Map(old)
  const arena = new WindowArena(windows)
  arena.loadAll(windows.map((spec) => byKey.get(spec.key)))
  return arena
}

/** The windows of `arena` (laid out for `windows`) by key, for {@link carryWindows} into another set's arena. */
export const windowsByKey = (arena: WindowArena, windows: ReadonlyArray<WindowSpec>): Array<readonly [string, WindowSnapshot]> => {
  const snap = arena.snapshotAll()
  return windows.map((w, k) => [w.key, windowOf(snap, k)] as const)
}
