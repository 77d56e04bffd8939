import type { Expr } from "./ast.ts"
import type { Severity } from "./severity.ts"

/** A position-tagged problem in a rules file. Lines and columns are 1-based. */
export interface RuleIssue {
  readonly file: string
  readonly line: number
  readonly col: number
  readonly message: string
}

/** Formats an issue as `file:line:col: message` (the format editors and CI understand). */
export const formatIssue = (i: RuleIssue): string => `${i.file}:${i.line}:${i.col}: ${i.message}`

/** One escalation step: after the alert has been open this long, raise its severity. */
export interface EscalationSpec {
  readonly afterMs: number
  readonly severity: Severity
}

/** A checked rule, before compilation. */
export interface RuleSpec {
  readonly name: string
  readonly description: string
  readonly when: Expr
  readonly whenSource: string
  readonly forMs: number
  readonly clear: Expr | undefined
  readonly clearSource: string | undefined
  readonly clearForMs: number
  readonly severity: Severity
  readonly escalate: ReadonlyArray<EscalationSpec>
  readonly channels: ReadonlyArray<string>
  readonly throttleMs: number
  /** Device groups the rule applies to; empty = every device. */
  readonly groups: ReadonlyArray<string>
}

/** A device group: device ids matching any glob get the group's tag and parameter overrides. */
export interface GroupSpec {
  readonly name: string
  readonly match: ReadonlyArray<string>
  readonly params: Readonly<Record<string, number>>
}

/** A checked rule set. */
export interface RuleSetSpec {
  readonly schemaType: string
  /** How far behind the newest event time a reading may be and still enter windows. */
  readonly latenessMs: number
  readonly params: Readonly<Record<string, number>>
  readonly groups: ReadonlyArray<GroupSpec>
  readonly rules: ReadonlyArray<RuleSpec>
}
