/**
 * Device numbering sessions (protocol v2). A device that restarts its `seq` numbering (reboot,
 * firmware update, battery swap) declares a new *boot* first, with a JSON control line
 *
 *   {"hello":{"boot":17}}          → HELLO v=2 boot=17
 *
 * that any stream may carry whatever format its readings use. A reading's identity is then
 * (device, boot, seq), as Kafka's idempotent producer keys a record by (producer id, epoch, seq):
 * seq restarts freely with each boot, and the device actor de-duplicates per boot.
 *
 * {@link NumberingGuard} keeps one connection honest about what it can see: within a connection
 * and boot, a reading whose seq is not above the last accepted one *and* whose ts is not later is
 * refused with `seq_regress` (it is a resend on the same connection, whose first copy's ACK
 * stands, or a restarted count that the device actor could not tell from a resend). A seq that
 * goes back with a later ts is a restarted count the device actor recognises, so it is accepted.
 * Pure; no IO.
 */
import { noBoot } from "../runtime/batch.ts"
import { ErrCode } from "./codes.ts"
import type { Refusal } from "./decode.ts"

/** Largest boot id + 1: boots are integers in [0, 2^53), e.g. a counter kept in flash or a random 52-bit id. */
const MAX_BOOT = 2 ** 53

const HELLO = [0x22, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x22] // "hello"

/** True when a JSON frame is a hello control line (`{"hello":…}`), not a reading. Cheap: looks at its first key only. */
export const isHelloFrame = (b: Uint8Array): boolean => {
  let i = 1
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09)) i++
  if (b.length < i + HELLO.length) return false
  for (let k = 0; k < HELLO.length; k++) if (b[i + k] !== HELLO[k]) return false
  return true
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** The boot a hello line declares, or the refusal (`bad_hello`). */
export const parseHello = (b: Uint8Array): { readonly boot: number } | Refusal => {
  let o: unknown
  try {
    o = JSON.parse(utf8.decode(b))
  } catch {
    return { code: ErrCode.badHello, reason: `a hello line is {"hello":{"boot":<integer in [0, 2^53)>}}` }
  }
  const h = typeof o === "object" && o !== null ? (o as { hello?: unknown }).hello : undefined
  const boot = typeof h === "object" && h !== null ? (h as { boot?: unknown }).boot : undefined
  if (typeof boot !== "number" || !Number.isInteger(boot) || boot < 0 || boot >= MAX_BOOT) {
    return { code: ErrCode.badHello, reason: `boot must be an integer in [0, 2^53), got ${typeof boot === "number" ? String(boot) : typeof boot}; the connection keeps its previous boot` }
  }
  return { boot }
}

/** `HELLO v=2 boot=<boot>\n`: the gateway's answer to a hello; readings after it belong to that boot. */
export const helloLine = (boot: number): string => `HELLO v=2 boot=${boot}\n`

/** The numbering a connection has seen in its current boot; refuses what the device actor would take for a resend. */
export class NumberingGuard {
  /** The boot readings of this connection belong to ({@link noBoot} until a hello). */
  boot = noBoot
  private lastSeq = -Infinity
  private lastTs = -Infinity

  /** Starts a new boot: numbering may restart. */
  setBoot(boot: number): void {
    this.boot = boot
    this.lastSeq = -Infinity
    this.lastTs = -Infinity
  }

  /** Accepts (and records) a reading, or returns the `seq_regress` refusal. */
  check(seq: number, ts: number): Refusal | undefined {
    if (seq <= this.lastSeq && ts <= this.lastTs) {
      const boot = this.boot === noBoot ? "no boot declared" : `boot ${this.boot}`
      return {
        code: ErrCode.seqRegress,
        reason: `seq=${seq} not above seq ${this.lastSeq} already sent on this connection (${boot}) and ts not later; ` +
          `resend only after reconnecting; to restart numbering send {"hello":{"boot":<new boot>}} first`,
      }
    }
    this.lastSeq = seq
    if (ts > this.lastTs) this.lastTs = ts
    return undefined
  }
}
