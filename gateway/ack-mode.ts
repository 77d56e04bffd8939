/**
 * Acknowledgement modes a device can choose for its connection, like Kafka's producer `acks`.
 * The choice is a JSON control line, sent before the readings it should apply to:
 *
 *   {"ack":"each"}                 → ACKMODE each              (default)
 *   {"ack":"coalesced","ms":250}   → ACKMODE coalesced ms=250
 *   {"ack":"none"}                 → ACKMODE none
 *
 * - `each`: an `ACK <seq>` whenever this connection's durable seq advances (once per PubAck of a
 *   batch holding its readings, i.e. up to one per `flushMs`).
 * - `coalesced`: at most one `ACK` per `ms` (10 … 60,000), still only for durable readings and
 *   cumulative, so nothing changes for the device but how often it hears about it.
 * - `none`: no `ACK` lines (fire-and-forget for links where downstream bytes cost money); `ERR`
 *   lines are still sent. The loss window is documented in docs/gateway.md.
 *
 * {@link AckGate} decides, per durable-seq advance, whether to write now, hold it, or drop it.
 * Pure: time is passed in.
 */
import { ErrCode } from "./codes.ts"
import type { Refusal } from "./decode.ts"

export type AckMode = { readonly kind: "each" } | { readonly kind: "coalesced"; readonly ms: number } | { readonly kind: "none" }

export const MIN_COALESCE_MS = 10
export const MAX_COALESCE_MS = 60_000

const ACK_KEY = [0x22, 0x61, 0x63, 0x6b, 0x22] // "ack"

/** True when a JSON frame is an ack-mode control line (`{"ack":…}`), not a reading. Looks at its first key only. */
export const isAckModeFrame = (b: Uint8Array): boolean => {
  let i = 1
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09)) i++
  if (b.length < i + ACK_KEY.length) return false
  for (let k = 0; k < ACK_KEY.length; k++) if (b[i + k] !== ACK_KEY[k]) return false
  return true
}

const utf8 = new TextDecoder("utf-8", { fatal: true })
const usage = `an ack line is {"ack":"each"}, {"ack":"none"} or {"ack":"coalesced","ms":<${MIN_COALESCE_MS}..${MAX_COALESCE_MS}>}; the connection keeps its mode`

/** The mode an ack line asks for, or the refusal (`bad_ack_mode`). */
export const parseAckMode = (b: Uint8Array): AckMode | Refusal => {
  let o: unknown
  try {
    o = JSON.parse(utf8.decode(b))
  } catch {
    return { code: ErrCode.badAckMode, reason: usage }
  }
  const r = (typeof o === "object" && o !== null ? o : {}) as { ack?: unknown; ms?: unknown }
  if (r.ack === "each") return { kind: "each" }
  if (r.ack === "none") return { kind: "none" }
  if (r.ack === "coalesced" && typeof r.ms === "number" && Number.isInteger(r.ms) && r.ms >= MIN_COALESCE_MS && r.ms <= MAX_COALESCE_MS) {
    return { kind: "coalesced", ms: r.ms }
  }
  return { code: ErrCode.badAckMode, reason: usage }
}

/** `ACKMODE <mode>[ ms=<n>]\n`: the gateway's answer to an ack line. */
export const ackModeLine = (m: AckMode): string => (m.kind === "coalesced" ? `ACKMODE coalesced ms=${m.ms}\n` : `ACKMODE ${m.kind}\n`)

/** Per connection: which durable seqs become `ACK` lines, and when. */
export class AckGate {
  private mode: AckMode = { kind: "each" }
  private lastSentAt = -Infinity
  /** Highest durable seq not yet sent (coalesced), else undefined. */
  private held: number | undefined

  get current(): AckMode {
    return this.mode
  }

  /** Switches mode; returns a held seq that must be sent now (a mode change never swallows an ACK). */
  set(mode: AckMode): number | undefined {
    this.mode = mode
    return this.take()
  }

  /**
   * The connection's durable seq advanced to `seq`. Returns the seq to write now, or undefined:
   * held (coalesced: call {@link due} after {@link waitMs}) or not acknowledged (none).
   */
  durable(seq: number, now: number): number | undefined {
    const m = this.mode
    if (m.kind === "each") return seq
    if (m.kind === "none") return undefined
    if (now - this.lastSentAt >= m.ms) {
      this.lastSentAt = now
      this.held = undefined
      return seq
    }
    this.held = seq
    return undefined
  }

  /** Milliseconds until a held ACK is due, or undefined when nothing is held. */
  waitMs(now: number): number | undefined {
    if (this.held === undefined || this.mode.kind !== "coalesced") return undefined
    return Math.max(0, this.lastSentAt + this.mode.ms - now)
  }

  /** A held ACK whose time has come (or undefined). */
  due(now: number): number | undefined {
    const w = this.waitMs(now)
    if (w === undefined || w > 0) return undefined
    this.lastSentAt = now
    return this.take()
  }

  /** Takes the held seq regardless of time (connection closing, mode change). */
  take(): number | undefined {
    const s = this.held
    this.held = undefined
    return s
  }
}
