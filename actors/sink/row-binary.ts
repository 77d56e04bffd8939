import { ByteWriter } from "./internal/byte-writer.ts"

/**
 * A byte writer for RowBinary insert bodies (https://clickhouse.com/docs/interfaces/formats/RowBinary):
 * every value in its column's binary form, little-endian, rows back to back. Float64 fields are
 * their 8 IEEE bytes copied as they are, so there is no number→text on our side and no text→number
 * on the server's (both were most of a TSV insert's CPU, research §C), and every double (NaN, -0,
 * denormals) arrives bit-exact.
 */
export class RowBinaryWriter extends ByteWriter {
  private view: DataView

  constructor(initialBytes = 1 << 16) {
    super(initialBytes)
    this.view = new DataView(this.buf.buffer)
  }

  protected override grown(): void {
    this.view = new DataView(this.buf.buffer)
  }

  /** Writes pre-encoded bytes (e.g. a cached {@link rowBinaryString}). */
  bytes(src: Uint8Array): void {
    this.reserve(src.length)
    this.buf.set(src, this.pos)
    this.pos += src.length
  }

  /** An unsigned LEB128 varint (a String's length; a Native block's column and row counts). */
  varUInt(n: number): void {
    this.reserve(10)
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80
      n = Math.floor(n / 0x80)
    }
    this.buf[this.pos++] = n
  }

  /** UInt16. */
  u16(n: number): void {
    this.reserve(2)
    this.view.setUint16(this.pos, n, true)
    this.pos += 2
  }

  /** UInt32; also DateTime (seconds since the epoch). */
  u32(n: number): void {
    this.reserve(4)
    this.view.setUint32(this.pos, n, true)
    this.pos += 4
  }

  /** UInt64 from a non-negative integer below 2^53, as two 32-bit halves (no BigInt). */
  u64(n: number): void {
    this.reserve(8)
    this.view.setUint32(this.pos, n >>> 0, true)
    this.view.setUint32(this.pos + 4, Math.floor(n / 4294967296), true)
    this.pos += 8
  }

  /** Float64. */
  f64(x: number): void {
    this.reserve(8)
    this.view.setFloat64(this.pos, x, true)
    this.pos += 8
  }

  /** `count` consecutive Float64 values of `src` from index `from`: one byte copy on little-endian hosts. */
  f64s(src: Float64Array, from: number, count: number): void {
    this.reserve(count * 8)
    if (littleEndian) {
      this.buf.set(new Uint8Array(src.buffer, src.byteOffset + from * 8, count * 8), this.pos)
      this.pos += count * 8
      return
    }
    for (let i = 0; i < count; i++) this.f64(src[from + i]!)
  }
}

const littleEndian = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f

/** A String value in RowBinary: the UTF-8 byte length as an unsigned LEB128 varint, then the bytes. */
export const rowBinaryString = (utf8: Uint8Array): Uint8Array => {
  let n = utf8.length
  let k = 1
  for (let m = n >>> 7; m > 0; m >>>= 7) k++
  const out = new Uint8Array(k + utf8.length)
  for (let i = 0; i < k - 1; i++) {
    out[i] = (n & 0x7f) | 0x80
    n >>>= 7
  }
  out[k - 1] = n
  out.set(utf8, k)
  return out
}
