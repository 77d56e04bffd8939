/**
 * A growable byte buffer: the storage that the TabSeparated and RowBinary writers share. The
 * buffer doubles when a reserve does not fit; `take` hands the body out and starts over.
 */
export class ByteWriter {
  protected buf: Uint8Array
  protected pos = 0

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

  /** Makes room for `n` more bytes (one call before a run of writes saves a check per value). */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const b = new Uint8Array(size)
    b.set(this.buf.subarray(0, this.pos))
    this.buf = b
    this.grown()
  }

  /** Called after the buffer was replaced (views over it must be rebuilt). */
  protected grown(): void {}
}
