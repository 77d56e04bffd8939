import { deviceBinder, planArgs, planHelpers, type PlanHelper, type RuleSetPlan } from "../../../config/rules/index.ts"
import type { CompiledRule, CompiledRuleSet, CondFn, FloorFn, FlipsFn, ScanFn, TrackersFn, ValuesFn } from "./compiled.ts"
import { windowReaders } from "./readers.ts"

/** Metres between two WGS84 points (great circle): the rule language's `haversine`. */
const hav = (lat1: number, lon1: number, lat2: number, lon2: number): number => {
  const r = Math.PI / 180
  const a = Math.sin(((lat2 - lat1) * r) / 2) ** 2 + Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(((lon2 - lon1) * r) / 2) ** 2
  return 12_742_000 * Math.asin(Math.min(1, Math.sqrt(a)))
}

/** What generated code may call, by the names the compiler uses (every one of `planHelpers`). */
const helperTable = { hav, ...windowReaders } satisfies Record<PlanHelper, unknown>
const helpers = planHelpers.map((n) => helperTable[n])

/** A function from generated code: the helpers are closed over, so a call is a plain call. */
const makeFn = <F>(body: string, params: string): F => new Function(...planHelpers, `return function(${params}){${body}}`)(...helpers) as F

/**
 * Turns a plan into functions (generated JS, no AST walk per reading). A plan from
 * config/rules compileRules was syntax-checked there, so this does not fail on one.
 */
export const linkRuleSet = (plan: RuleSetPlan): CompiledRuleSet => {
  const rules: CompiledRule[] = plan.rules.map((r) => ({
    ...r,
    when: makeFn<CondFn>(r.whenCode, planArgs.cond),
    clear: r.clearCode === undefined ? undefined : makeFn<CondFn>(r.clearCode, planArgs.cond),
    values: makeFn<ValuesFn>(r.valuesCode, planArgs.cond),
    floor: r.floorCode === undefined ? undefined : makeFn<FloorFn>(r.floorCode, planArgs.floor),
    flips: r.flipsCode === undefined ? undefined : makeFn<FlipsFn>(r.flipsCode, planArgs.flips),
  }))
  const bind = deviceBinder(plan.spec)
  return {
    ...plan,
    rules,
    scan: makeFn<ScanFn>(plan.scanCode, planArgs.scan),
    updateTrackers: new Function(`return function(${planArgs.trackers}){${plan.trackersCode}}`)() as TrackersFn,
    bind,
  }
}
