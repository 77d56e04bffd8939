/** Source of processing time. The runtime reads time only through a Clock, so tests can drive it. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number
}

/** The machine's clock; the one place the runtime reads wall time. */
export const systemClock: Clock = { now: () => Date.now() }
