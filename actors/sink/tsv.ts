import { ByteWriter } from "./internal/byte-writer.ts"

/**
 * A byte writer for TabSeparated insert bodies. Number→text is the cost of building an insert
 * (research §C), so integers and short decimals (what sensors send) are written digit by digit
 * without allocating; anything else falls back to the engine's shortest round-trip `String(x)`.
 */
export class TsvWriter extends ByteWriter {
  private readonly digits = new Uint8Array(24)

  /** Writes one byte (tab 9, newline 10). */
  byte(c: number): void {
    this.reserve(1)
    this.buf[this.pos++] = c
  }

  /** Writes an ASCII string already escaped for TSV. */
  ascii(s: string): void {
    this.reserve(s.length)
    const b = this.buf
    let p = this.pos
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i)
    this.pos = p
  }

  /** Writes pre-encoded bytes (e.g. a cached escaped device id). */
  bytes(src: Uint8Array): void {
    this.reserve(src.length)
    this.buf.set(src, this.pos)
    this.pos += src.length
  }

  /** Writes a non-negative integer below 2^53. */
  uint(n: number): void {
    this.reserve(17)
    if (n < 2147483648) return this.uint31(n | 0)
    const d = this.digits
    let k = 0
    while (n > 0) {
      const q = Math.floor(n / 10)
      d[k++] = 48 + (n - q * 10)
      n = q
    }
    const b = this.buf
    let p = this.pos
    while (k > 0) b[p++] = d[--k]!
    this.pos = p
  }

  /** Integer below 2^31 with int32 arithmetic, two digits per step. */
  private uint31(n: number): void {
    const b = this.buf
    if (n < 10) {
      b[this.pos++] = 48 + n
      return
    }
    const d = this.digits
    let k = 0
    while (n >= 100) {
      const q = (n / 100) | 0
      const r = (n - q * 100) << 1
      d[k++] = pairs[r + 1]!
      d[k++] = pairs[r]!
      n = q
    }
    if (n >= 10) {
      d[k++] = 48 + (n % 10)
      d[k++] = 48 + ((n / 10) | 0)
    } else d[k++] = 48 + n
    let p = this.pos
    while (k > 0) b[p++] = d[--k]!
    this.pos = p
  }

  /** Writes a Float64 as ClickHouse reads it: nan, inf, -inf, -0, integers, ≤4-decimal fast path, else String(x). */
  float(x: number): void {
    if (x !== x) return this.ascii("nan")
    this.reserve(24)
    let neg = false
    // -0 keeps its sign ("-0"), as RowBinary's bytes do.
    if (x < 0 || (x === 0 && 1 / x < 0)) {
      neg = true
      x = -x
    }
    if (x < 9e11) {
      // x·10⁴ stays below 2^53, so `scaled` is an exact integer and its digits are exact.
      const scaled = Math.round(x * 10000)
      if (scaled / 10000 === x) {
        if (neg) this.buf[this.pos++] = 45
        let int: number
        let frac: number
        if (scaled < 2147483648) {
          int = (scaled / 10000) | 0
          frac = (scaled | 0) - int * 10000
          this.uint31(int)
        } else {
          int = Math.floor(scaled / 10000)
          frac = scaled - int * 10000
          this.uint(int)
        }
        if (frac !== 0) {
          const b = this.buf
          let p = this.pos
          b[p++] = 46
          const hi = (frac / 100) | 0
          const lo = (frac - hi * 100) << 1
          b[p++] = pairs[hi << 1]!
          if (lo !== 0) {
            b[p++] = pairs[(hi << 1) + 1]!
            b[p++] = pairs[lo]!
            if (pairs[lo + 1] !== 48) b[p++] = pairs[lo + 1]!
          } else if (pairs[(hi << 1) + 1] !== 48) b[p++] = pairs[(hi << 1) + 1]!
          this.pos = p
        }
        return
      }
    }
    if (x === Infinity) return this.ascii(neg ? "-inf" : "inf")
    this.ascii(neg ? "-" + String(x) : String(x))
  }
}

/** "00".."99" as ASCII byte pairs. */
const pairs = new Uint8Array(200)
for (let i = 0; i < 100; i++) {
  pairs[i * 2] = 48 + Math.floor(i / 10)
  pairs[i * 2 + 1] = 48 + (i % 10)
}

/** Escapes a string for a TSV field (backslash, tab, newline, carriage return). */
export const escapeTsv = (s: string): string =>
  /[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r")) : s
