import { readFileSync } from "node:fs"
import type { DeviceSchema } from "../device-schema.ts"
import { compileRuleSet } from "./compile.ts"
import type { RuleSetPlan } from "./plan.ts"
import { parseRules } from "./file.ts"
import { defaultRuleLimits, type RuleLimits } from "./limits.ts"
import type { RuleIssue } from "./spec.ts"

/** Outcome of loading rules: a compiled plan (the device actor's engine links it), or every issue with its position. */
export type LoadRulesResult =
  | { readonly ok: true; readonly plan: RuleSetPlan }
  | { readonly ok: false; readonly issues: ReadonlyArray<RuleIssue> }

/** sha-256 (hex) of a rules source text: identifies a rule set version's content. */
export const rulesChecksum = (source: string): string => new Bun.CryptoHasher("sha256").update(source).digest("hex")

/**
 * Parses, checks and compiles rules source text. Never throws: bad input, a set over `limits`, and
 * even a fault of the compiler itself come back as issues, so a caller (a node's rules watcher) keeps
 * its running set.
 */
export const compileRules = (source: string, file: string, schema: DeviceSchema, limits: RuleLimits = defaultRuleLimits): LoadRulesResult => {
  try {
    const r = parseRules(source, file, schema, limits)
    if (!r.spec) return { ok: false, issues: r.issues }
    return { ok: true, plan: compileRuleSet(r.spec, schema, rulesChecksum(source)) }
  } catch (cause) {
    return { ok: false, issues: [{ file, line: 1, col: 1, message: `rule set cannot be compiled: ${(cause as Error)?.message ?? String(cause)}` }] }
  }
}

/** Reads and compiles a rules file; an unreadable file is reported as an issue at 1:1. */
export const loadRulesFile = (path: string, schema: DeviceSchema, limits: RuleLimits = defaultRuleLimits): LoadRulesResult => {
  let source: string
  try {
    source = readFileSync(path, "utf8")
  } catch (cause) {
    return { ok: false, issues: [{ file: path, line: 1, col: 1, message: `cannot read rules file: ${(cause as Error).message}` }] }
  }
  return compileRules(source, path, schema, limits)
}
