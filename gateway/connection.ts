/**
 * One authorised device connection: bytes in → frames → validated readings → the ingest core;
 * `ACK`/`ERR` lines out. Socket-free (the server passes a {@link Wire}), clock injected, so it is
 * tested byte by byte. A reading naming another device than the certificate's is refused with
 * `id_mismatch`; after `maxErrors` refusals the connection is closed with `too_many_errors`.
 * Above `maxReadingsPerSec` the connection is throttled (reading paused until the budget refills):
 * a rate limit never drops a valid reading, because a refused-then-resent reading would arrive
 * after later seqs and the device actor drops out-of-order seqs.
 */
import type { DeviceSchema } from "../config/device-schema.ts"
import { ackLine, ErrCode, errLine } from "./codes.ts"
import { decodeCsv, decodeJson, decodeMsgpack, newScratch, type ReadingScratch, type Refusal, type ValidateLimits } from "./decode.ts"
import { FrameKind, Framer, type FrameSink } from "./framer.ts"
import { AckCursor, type AckTarget, type Ingest } from "./ingest.ts"
import { bump, type GatewayMetrics } from "./metrics.ts"
import { helloLine, isHelloFrame, NumberingGuard, parseHello } from "./session.ts"

/** The socket as a connection sees it. */
export interface Wire {
  write(text: string): void
  /** Stops reading for `ms` (rate limit), then resumes unless something else holds it paused. */
  throttle(ms: number): void
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
  readonly metrics: GatewayMetrics
  readonly partitionsShard: (device: string) => number
  now(): number
  log(line: string): void
}

export class DeviceConnection implements AckTarget, FrameSink {
  readonly cursor = new AckCursor()
  readonly shard: number
  private readonly framer: Framer
  private readonly scratch: ReadingScratch
  private errors = 0
  private loggedMismatch = false
  private closed = false
  /** Boot declared by the device's hello, and the numbering seen in it (gateway/session.ts). */
  private readonly numbering = new NumberingGuard()
  /** Token bucket for readings/s. */
  private tokens: number
  private refilledAt: number

  constructor(readonly device: string, readonly peer: string, private readonly ctx: ConnectionContext, private readonly wire: Wire) {
    this.shard = ctx.partitionsShard(device)
    this.framer = new Framer(ctx.limits.maxFrameBytes)
    this.scratch = newScratch(ctx.schema)
    this.tokens = ctx.limits.maxReadingsPerSec
    this.refilledAt = ctx.now()
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Feeds bytes received from the device. */
  onData(chunk: Uint8Array): void {
    if (this.closed) return
    this.framer.feed(chunk, this)
    if (this.tokens < 0 && !this.closed) {
      const rate = this.ctx.limits.maxReadingsPerSec
      const waitMs = Math.ceil((-this.tokens / rate) * 1000)
      this.ctx.metrics.rate_limited++
      this.wire.write(errLine(ErrCode.rateLimit, `over ${rate} readings/s: reading paused ${waitMs} ms, nothing dropped`))
      this.wire.throttle(waitMs)
    }
  }

  /** @internal FrameSink */
  frame(kind: FrameKind, bytes: Uint8Array): void {
    if (this.closed) return
    const { schema, limits } = this.ctx
    const now = this.ctx.now()
    if (kind === FrameKind.json && isHelloFrame(bytes)) return this.hello(bytes)
    const s = this.scratch
    s.seq = NaN
    const bad: Refusal | undefined =
      kind === FrameKind.json ? decodeJson(bytes, schema, s, now, limits)
      : kind === FrameKind.csv ? decodeCsv(bytes, schema, s, now, limits)
      : decodeMsgpack(bytes, schema, s, now, limits)
    if (bad) return this.refuse(bad.code, bad.reason)
    if (s.device !== undefined && s.device !== this.device) {
      if (!this.loggedMismatch) {
        this.loggedMismatch = true // once per connection: a misconfigured device must not flood the log
        this.ctx.log(`gateway: ${this.device} (${this.peer}) sent a reading for device "${s.device.slice(0, 64)}"; refused (id_mismatch)`)
      }
      return this.refuse(ErrCode.idMismatch, `seq=${s.seq} reading for device "${s.device.slice(0, 64)}" on the connection of ${this.device}`)
    }
    const regress = this.numbering.check(s.seq, s.ts)
    if (regress) return this.refuse(regress.code, regress.reason)
    this.spend(now)
    this.ctx.ingest.add(this, this.device, this.shard, s.seq, s.ts, s.values, this.numbering.boot)
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

  /** @internal AckTarget */
  ack(seq: number): void {
    if (this.closed) return
    this.ctx.metrics.acked++
    this.wire.write(ackLine(seq))
  }

  /** Closes with a final `ERR <code> <reason>`. */
  close(code: ErrCode, reason: string): void {
    if (this.closed) return
    this.wire.write(errLine(code, reason))
    this.closed = true
    this.wire.close()
  }

  /** The socket went away. */
  gone(): void {
    this.closed = true
  }

  private spend(now: number): void {
    const rate = this.ctx.limits.maxReadingsPerSec
    this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) * rate) / 1000) - 1
    this.refilledAt = now
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
