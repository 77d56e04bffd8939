/**
 * One authorised device connection: bytes in → frames → validated readings → the ingest core;
 * `ACK`/`ERR` lines out. Socket-free (the server passes a {@link Wire}), clock injected, so it is
 * tested byte by byte. A reading naming another device than the certificate's is refused with
 * `id_mismatch`; after `maxErrors` refusals the connection is closed with `too_many_errors`.
 * Above `maxReadingsPerSec` the connection is throttled: frames already received wait in the
 * framer and reading is paused until the device's budget refills. The budget is per device
 * ({@link RateBudgets}, shared by the gateway), so it holds across read chunks and reconnects.
 * A rate limit never drops a valid reading, because a refused-then-resent reading would arrive
 * after later seqs and the device actor drops out-of-order seqs.
 * Every frame gets an answer: a decoder or sink that throws is caught per frame and answered
 * with the format's `bad_*` code; the frames behind it are processed as usual.
 */
import type { Clock } from "../runtime/clock.ts"
import type { DeviceSchema } from "../config/device-schema.ts"
import { AckGate, ackModeLine, isAckModeFrame, parseAckMode } from "./ack-mode.ts"
import { ackLine, ErrCode, errLine } from "./codes.ts"
import { decodeCsv, decodeJson, decodeMsgpack, newScratch, type ReadingScratch, type Refusal, type ValidateLimits } from "./decode.ts"
import { FrameKind, Framer, type FrameSink } from "./framer.ts"
import { AckCursor, type AckTarget, type Ingest } from "./ingest.ts"
import { bump, type GatewayMetrics } from "./metrics.ts"
import { RateBudgets } from "./rate.ts"
import { helloLine, isHelloFrame, NumberingGuard, parseHello } from "./session.ts"

/** The socket as a connection sees it. */
export interface Wire {
  write(text: string): void
  /**
   * Stops reading for `ms` (rate limit), then calls `resume` and resumes reading unless the
   * connection throttled itself again (or something else holds the socket paused).
   */
  throttle(ms: number, resume: () => void): void
  /** Sends nothing more and closes. */
  close(): void
}

/** Shared by all connections of one gateway. */
export interface ConnectionContext {
  readonly schema: DeviceSchema
  readonly limits: ValidateLimits & {
    readonly maxFrameBytes: number
    readonly maxErrors: number
    readonly maxReadingsPerSec: number
  }
  readonly ingest: Ingest
  /**
   * Readings/s budgets by device (rate `limits.maxReadingsPerSec`), shared by all connections of
   * the gateway so a reconnect does not refill them. Absent (unit tests): one for this connection.
   */
  readonly budgets?: RateBudgets
  readonly metrics: GatewayMetrics
  readonly partitionsShard: (device: string) => number
  /** Time and the coalesced-ACK timer. */
  readonly clock: Clock
  log(line: string): void
}

const EMPTY = new Uint8Array(0)

export class DeviceConnection implements AckTarget, FrameSink {
  readonly cursor = new AckCursor()
  readonly shard: number
  private readonly framer: Framer
  private readonly scratch: ReadingScratch
  private errors = 0
  private loggedMismatch = false
  private closed = false
  private throttled = false
  private lastNoticeAt = -Infinity
  private frames = 0
  private readonly acks = new AckGate()
  private readonly budgets: RateBudgets
  private ackTimer = false
  /** Boot declared by the device's hello, and the numbering seen in it (gateway/session.ts). */
  private readonly numbering = new NumberingGuard()

  constructor(readonly device: string, readonly peer: string, private readonly ctx: ConnectionContext, private readonly wire: Wire) {
    this.shard = ctx.partitionsShard(device)
    this.framer = new Framer(ctx.limits.maxFrameBytes)
    this.scratch = newScratch(ctx.schema)
    this.budgets = ctx.budgets ?? new RateBudgets(ctx.limits.maxReadingsPerSec)
  }

  /** Complete frames received so far (valid or not). */
  get framesSeen(): number {
    return this.frames
  }

  /** Reading is paused by the rate limit; received frames wait in the framer. */
  get isThrottled(): boolean {
    return this.throttled
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Feeds bytes received from the device. */
  onData(chunk: Uint8Array): void {
    if (this.closed) return
    // Bytes that arrive while throttled (already read before the socket paused) only queue up.
    if (this.throttled) this.framer.hold(chunk)
    else if (!this.framer.feed(chunk, this)) this.throttle()
  }

  /** Budget spent: stop cutting frames until it has refilled a little. */
  private throttle(): void {
    if (this.closed) return
    const budgets = this.budgets
    const now = this.ctx.clock.now()
    // Wait for a tenth of a second's worth (at least one reading): few, short pauses.
    const want = Math.min(budgets.burst, Math.max(1, budgets.rate / 10))
    const waitMs = Math.max(1, budgets.waitMs(this.device, now, want))
    this.throttled = true
    if (now - this.lastNoticeAt >= 1000) {
      // One notice per second of throttling: the device learns why, the link is not flooded.
      this.lastNoticeAt = now
      this.ctx.metrics.rate_limited++
      this.wire.write(errLine(ErrCode.rateLimit, `over ${budgets.rate} readings/s: reading paused, nothing dropped`))
    }
    this.wire.throttle(waitMs, () => this.resume())
  }

  private resume(): void {
    this.throttled = false
    if (!this.closed && !this.framer.feed(EMPTY, this)) this.throttle()
  }

  /** @internal FrameSink: returns false when the device's budget is spent (the framer stops). */
  frame(kind: FrameKind, bytes: Uint8Array): boolean {
    if (this.closed) return false
    this.frames++
    if (kind === FrameKind.json && isAckModeFrame(bytes)) {
      this.ackMode(bytes)
      return !this.closed
    }
    const { schema, limits } = this.ctx
    const now = this.ctx.clock.now()
    if (kind === FrameKind.json && isHelloFrame(bytes)) {
      this.hello(bytes)
      return !this.closed
    }
    const s = this.scratch
    s.seq = NaN
    const bad: Refusal | undefined =
      kind === FrameKind.json ? decodeJson(bytes, schema, s, now, limits)
      : kind === FrameKind.csv ? decodeCsv(bytes, schema, s, now, limits)
      : decodeMsgpack(bytes, schema, s, now, limits)
    if (bad) {
      this.refuse(bad.code, bad.reason)
      return !this.closed
    }
    if (s.device !== undefined && s.device !== this.device) {
      if (!this.loggedMismatch) {
        this.loggedMismatch = true // once per connection: a misconfigured device must not flood the log
        this.ctx.log(`gateway: ${this.device} (${this.peer}) sent a reading for device "${s.device.slice(0, 64)}"; refused (id_mismatch)`)
      }
      this.refuse(ErrCode.idMismatch, `seq=${s.seq} reading for device "${s.device.slice(0, 64)}" on the connection of ${this.device}`)
      return !this.closed
    }
    const regress = this.numbering.check(s.seq, s.ts)
    if (regress) {
      this.refuse(regress.code, regress.reason)
      return !this.closed
    }
    this.budgets.spend(this.device, now)
    this.ctx.ingest.add(this, this.device, this.shard, s.seq, s.ts, s.values, this.numbering.boot)
    return this.budgets.available(this.device, now) >= 1
  }

  /** @internal FrameSink: a decoder threw (a bug); the frame is refused like a malformed one. */
  failed(kind: FrameKind, error: unknown): void {
    this.ctx.metrics.decoder_exceptions++
    if (this.ctx.metrics.decoder_exceptions <= 10) this.ctx.log(`gateway: decoder exception on a frame from ${this.device} (${this.peer}): ${String(error).slice(0, 200)}`)
    const code = kind === FrameKind.json ? ErrCode.badJson : kind === FrameKind.csv ? ErrCode.badCsv : ErrCode.badMsgpack
    this.refuse(code, "frame could not be decoded; skipped")
  }

  /** A `{"hello":{"boot":…}}` line: later readings belong to that boot (their numbering may restart). */
  private hello(bytes: Uint8Array): void {
    const h = parseHello(bytes)
    if ("code" in h) return this.refuse(h.code, h.reason)
    this.numbering.setBoot(h.boot)
    this.ctx.metrics.hellos++
    this.wire.write(helloLine(h.boot))
  }

  /** @internal FrameSink */
  oversized(size: number): void {
    this.refuse(ErrCode.tooLarge, `frame of ${size} bytes exceeds the limit of ${this.ctx.limits.maxFrameBytes}; skipped`)
  }

  /** @internal AckTarget: the durable seq advanced; written now, held (coalesced) or not at all (none). */
  ack(seq: number): void {
    if (this.closed) return
    const now = this.ctx.clock.now()
    const send = this.acks.durable(seq, now)
    if (send !== undefined) return this.sendAck(send)
    const wait = this.acks.waitMs(now)
    if (wait === undefined || this.ackTimer) return
    this.ackTimer = true
    const fire = () => {
      this.ackTimer = false
      if (this.closed) return
      const due = this.acks.due(this.ctx.clock.now())
      if (due !== undefined) this.sendAck(due)
      const again = this.acks.waitMs(this.ctx.clock.now())
      if (again !== undefined) {
        this.ackTimer = true
        this.ctx.clock.after(again, fire)
      }
    }
    this.ctx.clock.after(wait, fire)
  }

  private sendAck(seq: number): void {
    this.ctx.metrics.acked++
    this.wire.write(ackLine(seq))
  }

  /** An `{"ack":…}` line: how this connection's durable readings are acknowledged from now on. */
  private ackMode(bytes: Uint8Array): void {
    const m = parseAckMode(bytes)
    if ("code" in m) return this.refuse(m.code, m.reason)
    const held = this.acks.set(m)
    if (held !== undefined) this.sendAck(held)
    bump(this.ctx.metrics.ack_modes, m.kind)
    this.wire.write(ackModeLine(m))
  }

  /** Closes with a final `ERR <code> <reason>` (after any coalesced ACK still held). */
  close(code: ErrCode, reason: string): void {
    if (this.closed) return
    const held = this.acks.take()
    if (held !== undefined) this.sendAck(held)
    this.wire.write(errLine(code, reason))
    this.closed = true
    this.wire.close()
  }

  /** The socket went away. */
  gone(): void {
    this.closed = true
  }

  private refuse(code: ErrCode, reason: string): void {
    bump(this.ctx.metrics.rejected_by_code, code)
    this.wire.write(errLine(code, reason))
    if (++this.errors >= this.ctx.limits.maxErrors) {
      this.ctx.metrics.connections_closed_errors++
      this.ctx.log(`gateway: closing ${this.device} (${this.peer}) after ${this.errors} refused frames; last: ${code}`)
      this.close(ErrCode.tooManyErrors, `${this.errors} refused frames (max ${this.ctx.limits.maxErrors}); closing`)
    }
  }
}
