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

/** Receives frames from {@link Framer.feed}. `bytes` is only valid during the call. */
export interface FrameSink {
  frame(kind: FrameKind, bytes: Uint8Array): void
  /** A frame larger than the limit was skipped; `size` is its size when known (else bytes seen so far). */
  oversized(size: number): void
}

const NL = 0x0a
const CR = 0x0d

export class Framer {
  private buf: Uint8Array = new Uint8Array(0)
  /** Bytes still to discard of an oversized msgpack frame. */
  private skipBytes = 0
  /** Inside an oversized text line: discard up to the next newline. */
  private skipLine = false

  constructor(readonly maxBytes: number) {}

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.buf.length
  }

  /** Feeds one chunk; calls `sink` once per complete frame, in order. */
  feed(chunk: Uint8Array, sink: FrameSink): void {
    let data: Uint8Array
    if (this.buf.length === 0) data = chunk
    else if (this.buf[0] !== 0 && !this.skipLine && this.skipBytes === 0) {
      // A text line continues: join only up to its end, then go on in `chunk` without copying it.
      const nl = chunk.indexOf(NL)
      if (nl < 0 || this.buf.length + nl > this.maxBytes + 1) {
        data = new Uint8Array(this.buf.length + chunk.length)
        data.set(this.buf)
        data.set(chunk, this.buf.length)
      } else {
        const line = new Uint8Array(this.buf.length + nl + 1)
        line.set(this.buf)
        line.set(chunk.subarray(0, nl + 1), this.buf.length)
        this.buf = new Uint8Array(0)
        this.feed(line, sink)
        this.feed(chunk.subarray(nl + 1), sink)
        return
      }
    } else {
      data = new Uint8Array(this.buf.length + chunk.length)
      data.set(this.buf)
      data.set(chunk, this.buf.length)
    }
    let pos = 0
    const end = data.length
    while (pos < end) {
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
          sink.oversized(len)
          this.skipBytes = len
          pos += 4
          continue
        }
        if (end - pos - 4 < len) break
        sink.frame(FrameKind.msgpack, data.subarray(pos + 4, pos + 4 + len))
        pos += 4 + len
        continue
      }
      const nl = data.indexOf(NL, pos)
      if (nl < 0) {
        if (end - pos > this.maxBytes) {
          sink.oversized(end - pos)
          this.skipLine = true
          pos = end
        }
        break
      }
      let stop = nl
      if (stop > pos && data[stop - 1] === CR) stop--
      if (stop - pos > this.maxBytes) sink.oversized(stop - pos)
      else if (stop > pos) sink.frame(first === 0x7b ? FrameKind.json : FrameKind.csv, data.subarray(pos, stop))
      pos = nl + 1
    }
    this.buf = pos >= end ? new Uint8Array(0) : data.slice(pos)
  }
}

/** Wraps a msgpack payload in the framing above (4-byte big-endian length). */
export const frameMsgpack = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + payload.length)
  new DataView(out.buffer).setUint32(0, payload.length)
  out.set(payload, 4)
  return out
}
