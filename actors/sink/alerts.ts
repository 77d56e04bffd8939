import { unpack } from "msgpackr"
import type { AlertTransition } from "../../runtime/alert.ts"
import { AlertTransitionMessage, isWireDecodeError } from "../../runtime/wire.ts"
import { maxTs, minTs } from "./sink.ts"
import type { Store } from "./store.ts"
import { alertColumns, tables } from "./tables.ts"

/** What a message on AKIS_ALERTS is to the alert writer. */
export type AlertMessage =
  | { readonly t: AlertTransition }
  /** Not a transition at all (e.g. an interpreter's explanation on the same stream): acked, not stored. */
  | { readonly skip: true }
  /** Shaped like a transition but not storable: a poison message for the dead-letter stream. */
  | { readonly invalid: string }

const maxText = 4096
const isUInt = (x: unknown, max: number) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= max

/**
 * Reads an alert transition from a JetStream payload (JSON or msgpack) and checks every field
 * against what the `alerts` table can hold, so one absurd message (`"seq": 1e300`) is refused here
 * instead of failing every insert of its batch.
 */
export const classifyAlertMessage = (data: Uint8Array): AlertMessage => {
  let v: unknown
  try {
    v = data[0] === 0x7b ? JSON.parse(new TextDecoder().decode(data)) : unpack(data)
  } catch {
    return { skip: true }
  }
  // Only what claims to be a transition is one (ids and a kind); anything else on the stream is skipped.
  if (typeof v !== "object" || v === null || !("kind" in v)) return { skip: true }
  const { id, alertId } = v as { id?: unknown; alertId?: unknown }
  if (typeof id !== "string" || typeof alertId !== "string") return { skip: true }
  const bad = (why: string): AlertMessage => ({ invalid: `alert transition ${JSON.stringify(id.slice(0, 200))}: ${why}` })
  let t: AlertTransition
  try {
    t = AlertTransitionMessage.decode(v)
  } catch (e) {
    if (!isWireDecodeError(e)) throw e
    return bad(`${e.path === "" ? "" : `${e.path}: `}${e.expected}`)
  }
  // The shape is the wire schema's; what the alerts table can hold is checked here.
  if (t.id.length > 512 || t.alertId.length > 512) return bad("id longer than 512 characters")
  if (t.device.length === 0 || t.device.length > 128) return bad("device is not a device id")
  if (t.rule.length === 0 || t.rule.length > 128) return bad("rule is not a rule name")
  if (!(t.at >= minTs && t.at < maxTs)) return bad(`time ${t.at} is outside what the alerts table stores`)
  if (!isUInt(t.seq, Number.MAX_SAFE_INTEGER)) return bad(`seq ${t.seq} is not an integer in 0..2^53-1`)
  if (!isUInt(t.ruleVersion, 0xffffffff)) return bad(`ruleVersion ${t.ruleVersion} is not a version number`)
  if (!isUInt(t.recvAt, maxTs)) return bad(`recvAt ${t.recvAt} is not a time`)
  if (t.message.length > maxText) return bad(`message is not text of at most ${maxText} characters`)
  if (Object.keys(t.values).length > 256) return bad("values must map at most 256 names to numbers")
  return { t }
}

/** The transition in a JetStream payload, or undefined for anything else (see {@link classifyAlertMessage}); `onInvalid` hears why a transition-like message was refused. */
export const parseTransition = (data: Uint8Array, onInvalid?: (reason: string) => void): AlertTransition | undefined => {
  const m = classifyAlertMessage(data)
  if ("invalid" in m) onInvalid?.(m.invalid)
  return "t" in m ? m.t : undefined
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
