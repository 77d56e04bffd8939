/** Alert severities, lowest first: part of the rule language (`severity:`, `escalate:`). */
export const severities = ["info", "warning", "critical"] as const
export type Severity = (typeof severities)[number]
