/**
 * A byte writer for TabSeparated insert bodies. Number→text is the cost of building an insert
 * (research §C), so integers and short decimals (what sensors send) are written digit by digit
 * without allocating; anything else falls back to the engine's shortest round-trip `String(x)`.
 */
export class TsvWriter {
  private buf: Uint8Array
  private pos = 0
  private readonly digits = new Uint8Array(24)

  constructor(initialBytes = 1 << 16) {
    this.buf = new Uint8Array(initialBytes)
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos
  }

  /** The body written so far (a copy sized to fit) and resets the writer. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos)
    this.pos = 0
    return out
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const b = new Uint8Array(size)
    b.set(this.buf.subarray(0, this.pos))
    this.buf = b
  }

  /** Writes one byte (tab 9, newline 10). */
  byte(c: number): void {
    this.ensure(1)
    this.buf[this.pos++] = c
  }

  /** Writes an ASCII string already escaped for TSV. */
  ascii(s: string): void {
    this.ensure(s.length)
    const b = this.buf
    let p = this.pos
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i)
    this.pos = p
  }

  /** Writes pre-encoded bytes (e.g. a cached escaped device id). */
  bytes(src: Uint8Array): void {
    this.ensure(src.length)
    this.buf.set(src, this.pos)
    this.pos += src.length
  }

  /** Writes a non-negative integer below 2^53. */
  uint(n: number): void {
    this.ensure(17)
    if (n < 10) {
      this.buf[this.pos++] = 48 + n
      return
    }
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

  /** Writes a Float64 as ClickHouse reads it: nan, inf, -inf, integers, ≤4-decimal fast path, else String(x). */
  float(x: number): void {
    if (x !== x) return this.ascii("nan")
    let neg = false
    if (x < 0) {
      neg = true
      x = -x
    }
    if (x < 9e11) {
      // x·10⁴ stays below 2^53, so `scaled` is an exact integer and its digits are exact.
      const scaled = Math.round(x * 10000)
      if (scaled / 10000 === x) {
        if (neg) this.byte(45)
        const int = Math.floor(scaled / 10000)
        let frac = scaled - int * 10000
        this.uint(int)
        if (frac !== 0) {
          this.ensure(5)
          const b = this.buf
          b[this.pos++] = 46
          let div = 1000
          while (frac !== 0) {
            const dgt = Math.floor(frac / div)
            b[this.pos++] = 48 + dgt
            frac -= dgt * div
            div /= 10
          }
        }
        return
      }
    }
    if (x === Infinity) return this.ascii(neg ? "-inf" : "inf")
    this.ascii(neg ? "-" + String(x) : String(x))
  }
}

/** Escapes a string for a TSV field (backslash, tab, newline, carriage return). */
export const escapeTsv = (s: string): string =>
  /[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r")) : s
