/** Public surface of the rule language: parse, check, compile, load, store. */
export type { Expr } from "./ast.ts"
export { show } from "./ast.ts"
export { parseDuration, formatDuration } from "./duration.ts"
export { parseExpr, isExprError, type ExprError } from "./parser.ts"
export { checkExpr, type Scope } from "./checker.ts"
export { functions, maxWindowMs, type FnSig } from "./functions.ts"
export { parseRules, type ParseResult } from "./file.ts"
export { compileRuleSet, ruleIdentity } from "./compile.ts"
export { compileRules, loadRulesFile, rulesChecksum, type LoadRulesResult } from "./load.ts"
export { formatIssue, type RuleIssue, type RuleSpec, type RuleSetSpec, type GroupSpec, type EscalationSpec } from "./spec.ts"
export type { CompiledRule, CompiledRuleSet, CondFn, ValuesFn, DeviceBinding, TrackerSpec, WindowSpec } from "./compiled.ts"
export { defaultRulesPath } from "./paths.ts"
export { defaultRuleLimits, ruleLimitsOf, type RuleLimits } from "./limits.ts"
export { RulesRejected, RulesStoreError } from "./errors.ts"
// The KV adapter (`akis_rules`: applyRules, rulesHistory, rollbackRules, watchRules) is
// config/rules/store.ts, imported directly by the IO shell so the pure core never loads NATS.
export { H as windowHeaderSize, WindowArena, windowReaders, type WindowNeeds } from "./windows.ts"
export { windowOf, type ArenaSnapshot, type WindowColumn, type WindowSnapshot } from "./window-snapshot.ts"
