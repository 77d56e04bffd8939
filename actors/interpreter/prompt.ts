import type { AlertTransition } from "../../runtime/alert.ts"

/** Everything a prompt is built from. */
export interface Situation {
  readonly transition: AlertTransition
  /** The rule's `description` from the rule pack ("" if the rule is gone). */
  readonly description: string
  /** The device actor's live window state (its `ops actor` answer), or undefined if it did not answer. */
  readonly windows?: Record<string, Record<string, number | null>> | undefined
  /** One line per fact of recent history (alerts, field ranges), or empty. */
  readonly history: ReadonlyArray<string>
}

/** The system message: what the model is for and how to answer. */
export const systemPrompt =
  "You explain alerts from a bus fleet's telemetry to a fleet operator. In at most 3 short sentences: what probably " +
  "happened, how urgent it is, and what to check first. Use only the facts given; say when they are not enough."

const round = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(4)) : x)

/** The user message for a situation. Values are rounded so near-identical situations share a cache entry. */
export const buildPrompt = (s: Situation): string => {
  const t = s.transition
  const lines = [
    `Alert ${t.kind}: rule "${t.rule}" on device ${t.device}, severity ${t.severity}.`,
    s.description ? `What the rule means: ${s.description}` : "",
    `Condition: ${t.message || "-"}`,
    `Values that triggered it: ${Object.entries(t.values).map(([k, v]) => `${k}=${round(v)}`).join(", ") || "-"}`,
  ]
  if (s.windows && Object.keys(s.windows).length > 0) {
    lines.push("Current window aggregates:")
    for (const [w, agg] of Object.entries(s.windows).slice(0, 12)) {
      lines.push(`- ${w}: ${Object.entries(agg).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${round(v as number)}`).join(", ")}`)
    }
  }
  if (s.history.length > 0) lines.push("Recent history:", ...s.history.map((h) => `- ${h}`))
  return lines.filter((l) => l !== "").join("\n")
}

/**
 * The cache key of a transition's situation: identical rule, transition kind, severity and
 * rounded values (to 2 significant digits) get the same explanation without asking the model
 * again. It needs only the transition, so a cache hit (or an open breaker) costs no context lookup.
 */
export const situationKey = (t: AlertTransition): string => {
  const sig = (x: number) => (x === 0 || !Number.isFinite(x) ? String(x) : x.toPrecision(2))
  return [t.rule, t.kind, t.severity, ...Object.entries(t.values).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${sig(v)}`)].join("|")
}
