/**
 * Cuts a TCP byte stream into frames. Three formats share one stream, told apart by the first byte:
 *
 * - `0x00`: a length-prefixed msgpack frame: 4-byte big-endian length, then that many bytes.
 *   Frames are limited far below 16 MiB, so the first length byte of a valid frame is always 0
 *   and can never start a text line.
 * - `{`: a JSON line, ended by `\n` (a `\r` before it is dropped).
 * - anything else: a CSV line.
 *
 * Frames may arrive split across any number of packets, or many per packet. A line longer than
 * `maxBytes` is reported once and skipped up to its newline; an oversized msgpack frame is
 * reported and its announced length skipped, so the stream stays in sync. Pure: no IO, no time.
 */
export const FrameKind = { json: 1, csv: 2, msgpack: 3 } as const
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind]

/**
 * Receives frames from {@link Framer.feed}. `bytes` is only valid during the call. A sink should
 * not throw; if it does, the framer has already moved past that frame, reports the exception to
 * `failed` and goes on with the next frame, so one bad frame can neither drop nor desynchronise
 * the frames behind it.
 */
export interface FrameSink {
  /** One complete frame. Returning `false` stops the framer: the rest stays buffered until the next `feed`. */
  frame(kind: FrameKind, bytes: Uint8Array): boolean | void
  /** A frame larger than the limit was skipped; `size` is its size when known (else bytes seen so far). */
  oversized(size: number): void
  /** `frame` or `oversized` threw (a bug in the sink); the frame is lost, the stream stays in sync. */
  failed?(kind: FrameKind, error: unknown): void
}

const NL = 0x0a
const CR = 0x0d
const EMPTY = new Uint8Array(0)

export class Framer {
  private buf: Uint8Array = EMPTY
  /** Bytes still to discard of an oversized msgpack frame. */
  private skipBytes = 0
  /** Inside an oversized text line: discard up to the next newline. */
  private skipLine = false

  constructor(readonly maxBytes: number) {}

  /** Bytes held waiting for the rest of a frame (or, after a stop, for the sink to want more). */
  get buffered(): number {
    return this.buf.length
  }

  /** Appends a chunk without cutting frames (the sink is not ready); the next `feed` cuts it. */
  hold(chunk: Uint8Array): void {
    if (chunk.length > 0) this.buf = concat(this.buf, chunk)
  }

  /**
   * Feeds one chunk (may be empty: then only what is buffered is cut); calls `sink` once per
   * complete frame, in order. Returns false when the sink stopped it (see {@link FrameSink.frame}).
   */
  feed(chunk: Uint8Array, sink: FrameSink): boolean {
    let data: Uint8Array
    if (this.buf.length === 0) data = chunk
    else if (chunk.length === 0) data = this.buf
    else if (this.buf[0] !== 0 && !this.skipLine && this.skipBytes === 0) {
      // A text line continues: join only up to its end, then go on in `chunk` without copying it.
      const nl = chunk.indexOf(NL)
      if (nl < 0 || this.buf.length + nl > this.maxBytes + 1) {
        data = concat(this.buf, chunk)
      } else {
        const line = new Uint8Array(this.buf.length + nl + 1)
        line.set(this.buf)
        line.set(chunk.subarray(0, nl + 1), this.buf.length)
        this.buf = EMPTY
        if (!this.feed(line, sink)) {
          this.buf = concat(this.buf, chunk.subarray(nl + 1))
          return false
        }
        return this.feed(chunk.subarray(nl + 1), sink)
      }
    } else data = concat(this.buf, chunk)
    let pos = 0
    const end = data.length
    let go = true
    while (pos < end && go) {
      if (this.skipBytes > 0) {
        const n = Math.min(this.skipBytes, end - pos)
        this.skipBytes -= n
        pos += n
        continue
      }
      if (this.skipLine) {
        const nl = data.indexOf(NL, pos)
        if (nl < 0) {
          pos = end
          break
        }
        this.skipLine = false
        pos = nl + 1
        continue
      }
      const first = data[pos]!
      if (first === 0) {
        if (end - pos < 4) break
        const len = ((data[pos + 1]! << 16) | (data[pos + 2]! << 8) | data[pos + 3]!) >>> 0
        if (len > this.maxBytes) {
          this.skipBytes = len
          pos += 4
          this.oversized(sink, FrameKind.msgpack, len)
          continue
        }
        if (end - pos - 4 < len) break
        const frame = data.subarray(pos + 4, pos + 4 + len)
        pos += 4 + len
        go = this.emit(sink, FrameKind.msgpack, frame)
        continue
      }
      const nl = data.indexOf(NL, pos)
      if (nl < 0) {
        if (end - pos > this.maxBytes) {
          this.skipLine = true
          const n = end - pos
          pos = end
          this.oversized(sink, FrameKind.csv, n)
        }
        break
      }
      let stop = nl
      if (stop > pos && data[stop - 1] === CR) stop--
      const start = pos
      pos = nl + 1
      const kind = first === 0x7b ? FrameKind.json : FrameKind.csv
      if (stop - start > this.maxBytes) this.oversized(sink, kind, stop - start)
      else if (stop > start) go = this.emit(sink, kind, data.subarray(start, stop))
    }
    // `data` may be the caller's chunk (only valid during this call) or `this.buf` itself.
    this.buf = pos >= end ? EMPTY : pos === 0 && data === this.buf ? data : data.slice(pos)
    return go
  }

  private emit(sink: FrameSink, kind: FrameKind, bytes: Uint8Array): boolean {
    try {
      return sink.frame(kind, bytes) !== false
    } catch (e) {
      this.fail(sink, kind, e)
      return true
    }
  }

  private oversized(sink: FrameSink, kind: FrameKind, size: number): void {
    try {
      sink.oversized(size)
    } catch (e) {
      this.fail(sink, kind, e)
    }
  }

  private fail(sink: FrameSink, kind: FrameKind, e: unknown): void {
    try {
      sink.failed?.(kind, e)
    } catch {
      // Nothing left to tell: the frame is lost, the stream stays in sync.
    }
  }
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** Wraps a msgpack payload in the framing above (4-byte big-endian length). */
export const frameMsgpack = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + payload.length)
  new DataView(out.buffer).setUint32(0, payload.length)
  out.set(payload, 4)
  return out
}
