import type { DeviceBinding, RulePlan, RuleSetPlan } from "../../../config/rules/index.ts"

/**
 * A compiled condition (config/rules/plan.ts describes the arguments): `v[o..o+width)` the reading
 * row, `p` parameters, `W` the window arena, `T` tracker slots, `S` rule-state array, `t` event
 * time, `tick` true on timer evaluations.
 */
export type CondFn = (v: Float64Array, o: number, p: Float64Array, W: Float64Array, T: Float64Array, S: Float64Array, t: number, tick: boolean) => boolean
/** Values that explain a transition (leaf name → value), computed only when a transition happens. */
export type ValuesFn = (v: Float64Array, o: number, p: Float64Array, W: Float64Array, T: Float64Array, S: Float64Array, t: number) => Record<string, number>
/** One pass over all rules for a reading (see `RuleSetPlan.scanCode`); returns how many rule indexes it wrote into `Q`. */
export type ScanFn = (v: Float64Array, o: number, p: Float64Array, W: Float64Array, T: Float64Array, S: Float64Array, t: number, E: Uint8Array, Q: Int32Array) => number
/** Updates every tracker from reading row `o` at event time `t` (after T[0]/T[1] were advanced). */
export type TrackersFn = (v: Float64Array, o: number, T: Float64Array, t: number) => void

/** See `RulePlan.floorCode`: the device time before which no tick can make a timed rule's `when` true. */
export type FloorFn = (T: Float64Array) => number
/** See `RulePlan.flipsCode`: the next device time after t at which a clock-driven term of a timed rule changes. */
export type FlipsFn = (T: Float64Array, S: Float64Array, t: number) => number

/** A rule of a linked set: its plan and its functions. */
export interface CompiledRule extends RulePlan {
  readonly when: CondFn
  /** Timed rules only. */
  readonly floor: FloorFn | undefined
  /** Timed rules only. */
  readonly flips: FlipsFn | undefined
  readonly clear: CondFn | undefined
  readonly values: ValuesFn
}

/**
 * A rule set plan linked into functions: what device actors evaluate. Immutable; shared by every
 * device actor of a node. Still a {@link RuleSetPlan} (every plan field is kept).
 */
export interface CompiledRuleSet extends RuleSetPlan {
  readonly rules: ReadonlyArray<CompiledRule>
  /**
   * Most readings leave every rule idle and false, so this is all that runs for them: writes into
   * `Q` the enabled rules that need their full lifecycle step and returns how many.
   */
  readonly scan: ScanFn
  readonly updateTrackers: TrackersFn
  /** Parameters and rule applicability for a device id (group globs). */
  bind(deviceId: string): DeviceBinding
}
