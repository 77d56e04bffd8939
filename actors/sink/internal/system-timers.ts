/** Timers the sink's IO shell uses; tests inject their own. */
export interface Timers {
  now(): number
  setTimeout(f: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** The process clock and timers (the only place in actors/sink that touches them). */
export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (f, ms) => setTimeout(f, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
}
