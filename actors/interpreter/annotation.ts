/**
 * An explanation annotation: what the interpreter publishes on `akis.alerts.explanation.<device>`
 * (stream AKIS_ALERTS, msg id `explain:<transitionId>`) for a raised or escalated transition. The
 * sink stores it in ClickHouse `alert_explanations`; notifiers and the API read it from the stream.
 */
export interface Explanation {
  readonly kind: "explanation"
  /** The explained transition's deterministic id, and its alert's. */
  readonly transitionId: string
  readonly alertId: string
  readonly device: string
  readonly rule: string
  /** Event time of the transition (epoch ms). */
  readonly at: number
  readonly model: string
  readonly text: string
  /** When the explanation was made (epoch ms) and how long the model took. */
  readonly createdAt: number
  readonly latencyMs: number
  /** True when it came from the cache of identical situations. */
  readonly cached: boolean
}

/** Reads an explanation annotation from a stream payload; undefined for anything else. */
export const parseExplanation = (data: Uint8Array): Explanation | undefined => {
  if (data[0] !== 0x7b) return undefined
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as Partial<Explanation>
    if (v.kind !== "explanation" || typeof v.transitionId !== "string" || typeof v.alertId !== "string" || typeof v.text !== "string" ||
      typeof v.device !== "string" || typeof v.rule !== "string" || typeof v.at !== "number") return undefined
    return {
      kind: "explanation", transitionId: v.transitionId, alertId: v.alertId, device: v.device, rule: v.rule, at: v.at,
      model: typeof v.model === "string" ? v.model : "", text: v.text, createdAt: typeof v.createdAt === "number" ? v.createdAt : 0,
      latencyMs: typeof v.latencyMs === "number" ? v.latencyMs : 0, cached: v.cached === true,
    }
  } catch {
    return undefined
  }
}
