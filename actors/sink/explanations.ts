import type { Explanation } from "../interpreter/annotation.ts"
import { HistoryInputInvalid } from "./errors.ts"
import { quoteString } from "./sql.ts"
import type { Store } from "./store.ts"
import { explanationColumns, tables } from "./tables.ts"

/** Formats explanations as a JSONEachRow body for `alert_explanations`. */
export const explanationRows = (xs: ReadonlyArray<Explanation>): string => {
  let out = ""
  for (const x of xs) {
    out += JSON.stringify({
      transition_id: x.transitionId, alert_id: x.alertId, device_id: x.device, rule: x.rule, at: Math.floor(x.at / 1000), model: x.model,
      text: x.text, created: Math.floor(Math.max(0, x.createdAt) / 1000), latency_ms: Math.max(0, Math.min(4_294_967_295, Math.floor(x.latencyMs))),
      cached: x.cached ? 1 : 0,
    }) + "\n"
  }
  return out
}

/** Stores explanations; the table de-duplicates on the transition id, so writing twice is harmless. */
export const writeExplanations = async (store: Store, xs: ReadonlyArray<Explanation>): Promise<void> => {
  const ok = xs.filter((x) => x.at >= 0 && x.at < 4_102_444_800_000)
  if (ok.length === 0) return
  await store.insert(tables.explanations, explanationColumns, "JSONEachRow", explanationRows(ok))
}

/** Explanations of one alert (every explained transition of it), oldest first, each once. */
export const explanationsOf = async (store: Store, alertId: string): Promise<Explanation[]> => {
  if (typeof alertId !== "string" || !/^[A-Za-z0-9_.:-]{1,256}$/.test(alertId)) {
    throw new HistoryInputInvalid({ field: "alertId", message: "alertId: letters, digits and _.:- only (at most 256)" })
  }
  const rows = await store.query<{
    transition_id: string; alert_id: string; device_id: string; rule: string; at_s: number; model: string; text: string; created_s: number
    latency_ms: number; cached: number
  }>(
    `SELECT transition_id, alert_id, device_id, rule, toUInt64(at) AS at_s, model, text, toUInt64(created) AS created_s, latency_ms, cached ` +
      `FROM ${tables.explanations} WHERE alert_id = ${quoteString(alertId)} ORDER BY created_s, transition_id LIMIT 1 BY transition_id LIMIT 100`,
  )
  return rows.map((r) => ({
    kind: "explanation", transitionId: r.transition_id, alertId: r.alert_id, device: r.device_id, rule: r.rule, at: Number(r.at_s) * 1000,
    model: r.model, text: r.text, createdAt: Number(r.created_s) * 1000, latencyMs: Number(r.latency_ms), cached: Number(r.cached) === 1,
  }))
}
