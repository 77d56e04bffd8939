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
