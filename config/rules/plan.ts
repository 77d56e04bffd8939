import type { Severity } from "./severity.ts"
import type { RuleSetSpec, RuleSpec, EscalationSpec } from "./spec.ts"

/**
 * What the compiler (compile.ts) hands the evaluation engine (actors/device/engine): plain data
 * and the source text of the functions to generate, nothing that runs. The engine links a plan
 * (link.ts there) by turning each code string into a function that sees the helpers named in
 * {@link planHelpers}.
 *
 * Generated code contract. Conditions and values take `(v,o,p,W,T,S,t,tick)`: `v[o..o+width)` is
 * the reading row, `p` the device's parameters, `W` the device's window arena (window k's header at
 * `k * H`, window-layout.ts), `T` tracker slots (T[0] = newest reading's event time, T[1] = the one
 * before), `S` the device's rule-state array (rules index their sequence slots absolutely), `t` the
 * evaluation time (event time), `tick` true on timer evaluations. The scan takes
 * `(v,o,p,W,T,S,t,E,Q)` and the tracker update `(v,o,T,t)`.
 */

/** Helpers generated code calls by name: haversine and the window aggregate readers. */
export const planHelpers = ["hav", "wCount", "wAvg", "wSum", "wStddev", "wZscore", "wMin", "wMax", "wFirst", "wLast", "wDelta", "wRate"] as const
export type PlanHelper = (typeof planHelpers)[number]

/** Parameter lists of the generated functions. */
export const planArgs = { cond: "v,o,p,W,T,S,t,tick", scan: "v,o,p,W,T,S,t,E,Q", trackers: "v,o,T,t", floor: "T", flips: "T,S,t" } as const

/** A window the rule set needs: one per (field, duration), shared by every rule that uses it. */
export interface WindowSpec {
  /** `field:ms`: identity across rule set versions (a threshold change keeps the window). */
  readonly key: string
  readonly field: number
  readonly fieldName: string
  readonly ms: number
  /** Maintain running mean/variance (avg, sum, stddev, zscore). */
  readonly moments: boolean
  /** Maintain monotonic deques (min, max). */
  readonly extremes: boolean
}

/** Per-reading state that is not a window (EWMA, last change, previous value), as slots in one Float64Array. */
export interface TrackerSpec {
  readonly key: string
  readonly kind: "ewma" | "change" | "prev"
  readonly field: number
  readonly tauMs: number
  readonly offset: number
  readonly size: number
}

/** A rule compiled to a plan: its lifecycle data and the code of its functions. */
export interface RulePlan {
  readonly name: string
  /** `name#hash` of its semantics (condition, durations, severity, escalation): state survives a reload iff unchanged. */
  readonly identity: string
  readonly spec: RuleSpec
  /** Uses absent()/unchanged(): also evaluated on timer ticks. */
  readonly timed: boolean
  /** For timed rules: how long after the last reading the rule may still fire (longest absent/unchanged + for). */
  readonly timerMs: number
  /**
   * For timed rules, body of a function of the tracker slots (`planArgs.floor`) giving the device
   * time before which no tick can make `when` true: `absent(d)` cannot before the newest reading
   * + d, `unchanged(f, d)` not before f's last change + d; an `and` needs both (the later), an
   * `or` either (the earlier); anything else gives -Infinity (no bound). A silent device's actor
   * needs no tick before then, so it can be passivated with a timer instead of staying live.
   */
  readonly floorCode: string | undefined
  /**
   * For timed rules, body of a function of the tracker and rule slots and the device time t
   * (`planArgs.flips`) giving the earliest device time after t at which one of the rule's
   * clock-driven terms (`absent`, `unchanged`, a sequence's `within`, in `when` or `clear`) changes
   * its value while the device is silent (Infinity: none). Until then, and until a window evicts,
   * a tick evaluates the rule exactly as the last one did.
   */
  readonly flipsCode: string | undefined
  /**
   * Where the rule's numbers live in the device's rule-state array R: R[base] phase, R[base+1]
   * since, R[base+2] openedAt, R[base+3] escalation steps applied, then `size - 4` sequence slots.
   */
  readonly base: number
  readonly size: number
  /** Body of the `when` condition (`planArgs.cond`), returning a boolean. */
  readonly whenCode: string
  /** Body of the `clear` condition, when the rule has one. */
  readonly clearCode: string | undefined
  /** Body returning the values that explain a transition (leaf name → value). */
  readonly valuesCode: string
  readonly severity: Severity
  readonly escalate: ReadonlyArray<EscalationSpec>
  readonly channels: ReadonlyArray<string>
  readonly throttleMs: number
}

/** A rule set compiled for one device schema: plain data, immutable. */
export interface RuleSetPlan {
  readonly spec: RuleSetSpec
  /** sha-256 of the source text. */
  readonly checksum: string
  readonly width: number
  readonly latenessMs: number
  readonly paramNames: ReadonlyArray<string>
  readonly windows: ReadonlyArray<WindowSpec>
  readonly trackers: ReadonlyArray<TrackerSpec>
  /** Length of a device's rule-state array (sum of the rules' sizes). */
  readonly ruleStateSize: number
  /** Tracker slot count including the two time slots. */
  readonly trackerSlots: number
  /**
   * Body of the scan (`planArgs.scan`): one pass over all rules for a reading that writes into `Q`
   * the indexes of enabled rules that need their full lifecycle step (not idle, condition true, or
   * with sequence steps) and returns how many.
   */
  readonly scanCode: string
  /** Body of the tracker update (`planArgs.trackers`), run after T[0]/T[1] were advanced. */
  readonly trackersCode: string
  readonly rules: ReadonlyArray<RulePlan>
}
