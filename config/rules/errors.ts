import { Data } from "effect"
import type { RuleIssue } from "./spec.ts"

/** A rule set was refused; `issues` say where and why (file:line:col). */
export class RulesRejected extends Data.TaggedError("RulesRejected")<{ readonly issues: ReadonlyArray<RuleIssue> }> {
  override get message(): string {
    return `rule set refused: ${this.issues.length} issue(s)`
  }
}

/** Reading or writing the `akis_rules` bucket failed. */
export class RulesStoreError extends Data.TaggedError("RulesStoreError")<{ readonly message: string; readonly cause?: unknown }> {}
