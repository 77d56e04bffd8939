/**
 * Public surface of the rule language: parse, check, limits, compile to a plan, load. config/
 * depends on nothing above it; the engine that evaluates a plan is actors/device/engine, and the
 * KV adapter (`akis_rules`) is ops/lib/rules-store.ts.
 */
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
export { planArgs, planHelpers, type PlanHelper, type RulePlan, type RuleSetPlan, type TrackerSpec, type WindowSpec } from "./plan.ts"
export { deviceBinder, type DeviceBinding } from "./bind.ts"
export { severities, type Severity } from "./severity.ts"
export { arenaBytes, type WindowNeeds } from "./window-layout.ts"
export { defaultRulesPath } from "./paths.ts"
export { defaultRuleLimits, ruleLimitsOf, type RuleLimits } from "./limits.ts"
export { RulesRejected, RulesStoreError } from "./errors.ts"
