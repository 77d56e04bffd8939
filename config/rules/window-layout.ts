/**
 * The size model of a device's window arena (actors/device/engine/arena.ts), kept here because the
 * rule language's limits are checked against it: `rules.maxWindowBytesPerDevice` refuses a rule set
 * whose windows would not fit. The arena takes its header sizes and ring capacities from this
 * module, so a limit checked here holds for the arenas actually built.
 *
 * Layout: window k has a header of {@link H} doubles at `k * H`; then one header of {@link HG}
 * doubles per duration group; then per group its ring (`cap` slots of `members + 1` doubles: the
 * time, then each member's value) and, for members that need min/max, two deques of `cap` slots.
 * Generated rule code addresses window k's header as `k * H` (compile.ts).
 */

/** Doubles in a window's header. */
export const H = 16
/** Doubles in a duration group's header. */
export const HG = 8

/** Ring capacity for `n` slots: a power of two, at least 16. */
export const capFor = (n: number): number => {
  let c = 16
  while (c < n) c *= 2
  return c
}

/** What a window must maintain, and which row field feeds it. */
export interface WindowNeeds {
  readonly field: number
  readonly ms: number
  readonly moments: boolean
  readonly extremes: boolean
}

/** Ring capacity of a group of `ms` when its device sends `hz` readings per second. */
export const ringCapFor = (ms: number, hz: number): number => capFor(Math.ceil((ms / 1000) * hz) + 2)

/**
 * Bytes an arena for `needs` takes when its device sends `hz` readings per second: headers, one
 * ring per duration, min/max deques.
 */
export const arenaBytes = (needs: ReadonlyArray<WindowNeeds>, hz: number): number => {
  const byMs = new Map<number, WindowNeeds[]>()
  for (const w of needs) byMs.set(w.ms, [...(byMs.get(w.ms) ?? []), w])
  let doubles = needs.length * H + byMs.size * HG
  for (const [ms, members] of byMs) {
    const c = ringCapFor(ms, hz)
    doubles += c * (members.length + 1) + members.filter((w) => w.extremes).length * 2 * c
  }
  return doubles * 8
}
