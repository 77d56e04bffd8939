import { ExplanationMessage, isWireDecodeError, type ExplanationRecord, type WireDecodeError } from "../../runtime/wire.ts"

/**
 * An explanation annotation: what the interpreter publishes on `akis.alerts.explanation.<device>`
 * (stream AKIS_ALERTS, msg id `explain:<transitionId>`) for a raised or escalated transition. The
 * sink stores it in ClickHouse `alert_explanations`; notifiers and the API read it from the stream.
 * Its fields are the wire's (runtime/wire/alerts.ts), optional ones filled.
 */
export type Explanation = ExplanationRecord

/**
 * Reads an explanation annotation from a stream payload; undefined for anything else. A message
 * that says it is an explanation but does not decode is undefined too (the readers count it as
 * skipped), and `onMalformed` hears why.
 */
export const parseExplanation = (data: Uint8Array, onMalformed?: (e: WireDecodeError) => void): Explanation | undefined => {
  if (data[0] !== 0x7b) return undefined
  let v: unknown
  try {
    v = JSON.parse(new TextDecoder().decode(data))
  } catch {
    return undefined
  }
  if (typeof v !== "object" || v === null || (v as { kind?: unknown }).kind !== "explanation") return undefined
  try {
    return ExplanationMessage.decode(v)
  } catch (e) {
    if (!isWireDecodeError(e)) throw e
    onMalformed?.(e)
    return undefined
  }
}
