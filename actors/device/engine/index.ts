/**
 * The rule evaluation engine of a device actor: links a rule set plan (config/rules) into
 * functions, keeps a device's windows in one arena, and snapshots and restores them. The device
 * actor (state.ts, behaviour.ts, query.ts) uses this surface only.
 */
export { WindowArena } from "./arena.ts"
export type { CompiledRule, CompiledRuleSet, CondFn, ValuesFn } from "./compiled.ts"
export { linkRuleSet } from "./link.ts"
export { windowAggregates } from "./readers.ts"
export { carryWindows, windowOf, windowsByKey, windowsOfSnapshot, type ArenaSnapshot, type WindowColumn, type WindowSnapshot } from "./snapshot.ts"
