/** Argument kinds a rule function accepts. `field` means a bare schema field name. */
export type ArgKind = "field" | "dur" | "num"
/** Value types of expressions. */
export type Type = "num" | "bool" | "dur"

/** What a function does, for the checker (signature) and the compiler (category). */
export interface FnSig {
  readonly args: ReadonlyArray<ArgKind>
  readonly result: Exclude<Type, "dur">
  readonly category: "window" | "ewma" | "prev" | "elapsed" | "absent" | "unchanged" | "missing" | "math"
  readonly doc: string
}

const win = (doc: string): FnSig => ({ args: ["field", "dur"], result: "num", category: "window", doc })

/** Every function of the rule language. */
export const functions: Readonly<Record<string, FnSig>> = {
  avg: win("mean of the field over the last duration (event time)"),
  min: win("smallest value over the window"),
  max: win("largest value over the window"),
  sum: win("sum over the window"),
  count: win("number of readings that carried the field within the window"),
  stddev: win("population standard deviation over the window"),
  first: win("oldest value still in the window"),
  last: win("newest value in the window"),
  delta: win("last - first over the window"),
  rate: win("(last - first) / seconds between them, per second"),
  zscore: win("(current value - window mean) / window stddev; 0 while stddev is 0"),
  ewma: { args: ["field", "dur"], result: "num", category: "ewma", doc: "exponentially weighted mean with the given time constant" },
  ewma_z: { args: ["field", "dur"], result: "num", category: "ewma", doc: "deviation of the current value from the EWMA before it, in EW standard deviations" },
  prev: { args: ["field"], result: "num", category: "prev", doc: "the field's value in the previous accepted reading (NaN for the first)" },
  elapsed: { args: [], result: "num", category: "elapsed", doc: "seconds since the previous accepted reading (NaN for the first)" },
  absent: { args: ["dur"], result: "bool", category: "absent", doc: "no reading for the duration (evaluated on timer ticks)" },
  unchanged: { args: ["field", "dur"], result: "bool", category: "unchanged", doc: "the field kept exactly the same value for the duration" },
  missing: { args: ["field"], result: "bool", category: "missing", doc: "the current reading did not carry the field" },
  abs: { args: ["num"], result: "num", category: "math", doc: "absolute value" },
  sqrt: { args: ["num"], result: "num", category: "math", doc: "square root" },
  least: { args: ["num", "num"], result: "num", category: "math", doc: "smaller of two numbers" },
  greatest: { args: ["num", "num"], result: "num", category: "math", doc: "larger of two numbers" },
  haversine: { args: ["num", "num", "num", "num"], result: "num", category: "math", doc: "metres between (lat1, lon1) and (lat2, lon2)" },
}

/** Longest window a rule may ask for: windows keep every reading, so memory grows with it. */
export const maxWindowMs = 3_600_000
