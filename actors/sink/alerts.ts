import { unpack } from "msgpackr"
import type { AlertTransition } from "../../runtime/alert.ts"
import { maxTs, minTs } from "./sink.ts"
import type { Store } from "./store.ts"
import { alertColumns, tables } from "./tables.ts"

const kinds = new Set(["raised", "escalated", "cleared"])
const sevs = new Set(["info", "warning", "critical"])

/**
 * Reads an alert transition from a JetStream payload (JSON or msgpack) and checks its shape.
 * Returns undefined for anything else (e.g. an interpreter's explanation on the same stream).
 */
export const parseTransition = (data: Uint8Array): AlertTransition | undefined => {
  let v: unknown
  try {
    v = data[0] === 0x7b ? JSON.parse(new TextDecoder().decode(data)) : unpack(data)
  } catch {
    return undefined
  }
  const t = v as Partial<AlertTransition> | null
  if (
    typeof t !== "object" || t === null || typeof t.id !== "string" || typeof t.alertId !== "string" ||
    typeof t.device !== "string" || typeof t.rule !== "string" || !kinds.has(String(t.kind)) || !sevs.has(String(t.severity)) ||
    typeof t.at !== "number" || !(t.at >= minTs && t.at < maxTs)
  ) return undefined
  return {
    id: t.id, alertId: t.alertId, device: t.device, rule: t.rule, kind: t.kind!, severity: t.severity!, at: t.at,
    seq: typeof t.seq === "number" ? t.seq : 0, message: typeof t.message === "string" ? t.message : "",
    values: typeof t.values === "object" && t.values !== null ? t.values : {},
    channels: Array.isArray(t.channels) ? t.channels.filter((c): c is string => typeof c === "string") : [],
    ruleVersion: typeof t.ruleVersion === "number" ? t.ruleVersion : 0, recvAt: typeof t.recvAt === "number" ? t.recvAt : 0,
  }
}

/** Formats transitions as a JSONEachRow body for `alerts` (JSON does the string escaping). */
export const alertRows = (ts: ReadonlyArray<AlertTransition>, nowMs: number): string => {
  const ingested = Math.floor(nowMs / 1000)
  let out = ""
  for (const t of ts) {
    const at = Math.floor(t.at)
    const sec = Math.floor(at / 1000)
    out += JSON.stringify({
      id: t.id, alert_id: t.alertId, device_id: t.device, rule: t.rule, kind: t.kind, severity: t.severity, at: sec,
      at_ms: at - sec * 1000, seq: Math.max(0, Math.floor(t.seq)), message: t.message, values_json: JSON.stringify(t.values),
      channels: t.channels, rule_version: Math.max(0, Math.floor(t.ruleVersion)), recv_at: Math.max(0, Math.floor(t.recvAt)),
      ingested,
    }) + "\n"
  }
  return out
}

/**
 * Stores alert transitions; the table de-duplicates on the transition id, so writing twice is
 * harmless. Transitions whose time cannot be stored (see {@link minTs}) are left out; callers
 * get them via {@link parseTransition} already filtered and counted.
 */
export const writeAlerts = async (store: Store, ts: ReadonlyArray<AlertTransition>, nowMs: number): Promise<void> => {
  const ok = ts.filter((t) => t.at >= minTs && t.at < maxTs)
  if (ok.length === 0) return
  await store.insert(tables.alerts, alertColumns, "JSONEachRow", alertRows(ok, nowMs))
}
