import type { AlertTransition } from "../../runtime/alert.ts"

/**
 * What a channel delivers: one transition, or a digest of several from one channel's window.
 * `key` is the idempotency key (same on every redelivery); `explanation` is the interpreter's
 * text when it was known before the delivery.
 */
export type Notification =
  | { readonly type: "alert"; readonly key: string; readonly channel: string; readonly transition: AlertTransition; readonly explanation?: string | undefined }
  | { readonly type: "digest"; readonly key: string; readonly channel: string; readonly transitions: ReadonlyArray<AlertTransition> }

const verb = { raised: "raised", escalated: "ESCALATED", cleared: "cleared" } as const

/** One line naming a transition, e.g. "WARNING overheating raised on bus-0042: coolant …". */
export const headline = (t: AlertTransition): string =>
  `${t.severity.toUpperCase()} ${t.rule} ${verb[t.kind]} on ${t.device}${t.message ? `: ${t.message}` : ""}`

/** Subject line of an e-mail (also the first line of an SMS). */
export const subjectOf = (n: Notification): string =>
  n.type === "alert" ? `[akis] ${headline(n.transition)}` : `[akis] digest: ${n.transitions.length} alert transitions on ${n.channel}`

/** Plain-text body: the headline, values, time, ids and the explanation if there is one. */
export const textOf = (n: Notification): string => {
  if (n.type === "digest") {
    return [`${n.transitions.length} alert transitions arrived together; one message instead of a storm:`, "",
      ...n.transitions.map((t) => `- ${new Date(t.at).toISOString()} ${headline(t)}`), "", `digest ${n.key}`].join("\n")
  }
  const t = n.transition
  return [
    headline(t), "",
    `time:   ${new Date(t.at).toISOString()}`,
    `device: ${t.device}`,
    `rule:   ${t.rule} (rule set v${t.ruleVersion})`,
    `values: ${Object.entries(t.values).map(([k, v]) => `${k}=${v}`).join(", ") || "-"}`,
    `alert:  ${t.alertId}`,
    ...(n.explanation ? ["", "Explanation:", n.explanation] : []),
    "", `delivery ${n.key}`,
  ].join("\n")
}

/** Short text for SMS (one segment where possible). */
export const smsTextOf = (n: Notification, max = 320): string => {
  const s = n.type === "alert" ? `akis: ${headline(n.transition)}` : `akis: ${n.transitions.length} alerts: ${n.transitions.slice(0, 3).map((t) => `${t.rule}@${t.device}`).join(", ")}${n.transitions.length > 3 ? ", …" : ""}`
  return s.length > max ? `${s.slice(0, max - 1)}…` : s
}

/** The webhook's JSON body. */
export const jsonOf = (n: Notification): Record<string, unknown> =>
  n.type === "alert"
    ? { type: "alert", key: n.key, channel: n.channel, transition: n.transition, text: headline(n.transition), explanation: n.explanation ?? null }
    : { type: "digest", key: n.key, channel: n.channel, count: n.transitions.length, transitions: n.transitions, text: textOf(n) }
