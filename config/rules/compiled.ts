import type { Severity } from "../../runtime/alert.ts"
import type { RuleSetSpec, RuleSpec, EscalationSpec } from "./spec.ts"

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

/**
 * A compiled condition: `v[o..o+width)` is the reading row, `p` the device's parameters, `W` the
 * device's window arena (config/rules/windows.ts), `T` tracker slots (T[0] = newest reading's event time, T[1] = the one before), `S` the
 * device's rule-state array (rules index their sequence slots absolutely), `t` the evaluation time (event time), `tick` true on timer evaluations.
 */
export type CondFn = (v: Float64Array, o: number, p: Float64Array, W: Float64Array, T: Float64Array, S: Float64Array, t: number, tick: boolean) => boolean
/** Values that explain a transition (leaf name → value), computed only when a transition happens. */
export type ValuesFn = (v: Float64Array, o: number, p: Float64Array, W: Float64Array, T: Float64Array, S: Float64Array, t: number) => Record<string, number>

/** A rule compiled to plain functions. */
export interface CompiledRule {
  readonly name: string
  /** `name#hash` of its semantics (condition, durations, severity, escalation): state survives a reload iff unchanged. */
  readonly identity: string
  readonly spec: RuleSpec
  /** Uses absent()/unchanged(): also evaluated on timer ticks. */
  readonly timed: boolean
  /** For timed rules: how long after the last reading the rule may still fire (longest absent/unchanged + for). */
  readonly timerMs: number
  /**
   * For timed rules: a tick cannot make `when` true sooner than this after the newest reading
   * (the longest `absent(d)` the condition requires; 0 when it requires none), so a silent
   * device's actor needs no tick before then.
   */
  readonly quietMs: number
  /**
   * Where the rule's numbers live in the device's rule-state array R: R[base] phase, R[base+1]
   * since, R[base+2] openedAt, R[base+3] escalation steps applied, then `size - 4` sequence slots.
   */
  readonly base: number
  readonly size: number
  readonly when: CondFn
  readonly clear: CondFn | undefined
  readonly values: ValuesFn
  readonly severity: Severity
  readonly escalate: ReadonlyArray<EscalationSpec>
  readonly channels: ReadonlyArray<string>
  readonly throttleMs: number
}

/** A device's view of a rule set: its parameter values, groups and which rules apply to it. */
export interface DeviceBinding {
  readonly params: Float64Array
  readonly groups: ReadonlyArray<string>
  readonly enabled: Uint8Array
}

/** A rule set compiled for one device schema. Immutable; shared by every device actor of a node. */
export interface CompiledRuleSet {
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
   * One pass over all rules for a reading: writes into `Q` the indexes of enabled rules that need
   * their full lifecycle step (not idle, condition true, or with sequence steps) and returns how
   * many. Most readings leave every rule idle and false, so this is all that runs.
   */
  readonly scan: (v: Float64Array, o: number, p: Float64Array, W: Float64Array, T: Float64Array, S: Float64Array, t: number, E: Uint8Array, Q: Int32Array) => number
  /** Updates every tracker from reading row `o` at event time `t` (after T[0]/T[1] were advanced). */
  readonly updateTrackers: (v: Float64Array, o: number, T: Float64Array, t: number) => void
  readonly rules: ReadonlyArray<CompiledRule>
  /** Parameters and rule applicability for a device id (group globs). */
  bind(deviceId: string): DeviceBinding
}
