import { Packr } from "msgpackr"

/**
 * A columnar batch of readings for one shard: the unit that travels from the gateway through
 * JetStream (`akis.tlm.<shard>`) to the shard host and on to the sink. Reading `i` is
 * `ids[i]`, `seqs[i]`, `ts[i]` and `values[i*width .. i*width+width-1]` in schema field order.
 * Keeping readings columnar avoids a per-reading object decode (research §C: 45× cheaper).
 */
export interface ReadingBatch {
  /** Device id of each reading. */
  readonly ids: ReadonlyArray<string>
  /** Device-local sequence number of each reading (integers below 2^53). */
  readonly seqs: Float64Array
  /** Event time of each reading, epoch milliseconds. */
  readonly ts: Float64Array
  /** Values per reading: the device schema's field count. */
  readonly width: number
  /** `ids.length * width` values, row-major; NaN marks a field the device did not send. */
  readonly values: Float64Array
  /** Version of the device schema the values follow. */
  readonly schema: number
  /** Gateway receive time of the batch, epoch ms (for latency measurement). */
  readonly recvAt: number
  /**
   * Boot id of each reading (the device's numbering epoch, declared by its `hello` line), or
   * {@link noBoot} for a device that declared none. Absent when no reading of the batch has one.
   * A reading's identity is (device, boot, seq): seq restarts freely with each boot.
   */
  readonly boots?: Float64Array | undefined
}

/** The boot of a reading whose device never declared one (a protocol v1 device). */
export const noBoot = -1

/** Boot of reading `i` of `b` ({@link noBoot} when the device declared none). */
export const bootOf = (b: ReadingBatch, i: number): number => (b.boots === undefined ? noBoot : b.boots[i]!)

const packr = new Packr({ useRecords: false, moreTypes: true })

/**
 * Encodes a batch with msgpackr; typed arrays travel as raw bytes. The boots column is a ninth
 * element, written only when a reading has a boot, so a batch of v1 devices is byte-identical to
 * what older nodes wrote and read.
 */
export const encodeBatch = (b: ReadingBatch): Uint8Array =>
  packr.pack(b.boots === undefined
    ? [1, b.ids, b.seqs, b.ts, b.width, b.values, b.schema, b.recvAt]
    : [1, b.ids, b.seqs, b.ts, b.width, b.values, b.schema, b.recvAt, b.boots])

/** Thrown by {@link decodeBatch} when the bytes are not a valid batch. */
export class BatchDecodeError extends Error {
  override readonly name = "BatchDecodeError"
  readonly _tag = "BatchDecodeError"
}

/** Decodes and checks a batch produced by {@link encodeBatch}. */
export const decodeBatch = (bytes: Uint8Array): ReadingBatch => {
  const raw = packr.unpack(bytes) as unknown
  if (!Array.isArray(raw) || raw[0] !== 1) throw new BatchDecodeError("not an akis reading batch (version 1)")
  const [, ids, seqs, ts, width, values, schema, recvAt, boots] = raw as [
    number, string[], Float64Array, Float64Array, number, Float64Array, number, number, Float64Array | undefined,
  ]
  const n = Array.isArray(ids) ? ids.length : -1
  if (
    n < 0 || !(seqs instanceof Float64Array) || !(ts instanceof Float64Array) || !(values instanceof Float64Array) ||
    seqs.length !== n || ts.length !== n || values.length !== n * width ||
    (boots !== undefined && (!(boots instanceof Float64Array) || boots.length !== n))
  ) throw new BatchDecodeError(`malformed reading batch (n=${n}, width=${width})`)
  return boots === undefined ? { ids, seqs, ts, width, values, schema, recvAt } : { ids, seqs, ts, width, values, schema, recvAt, boots }
}

/** A copy of `a` in a new, larger Float64Array of `size` (for growable columns). */
export const growFloat64 = (a: Float64Array, size: number): Float64Array => {
  const b = new Float64Array(size)
  b.set(a)
  return b
}

/**
 * Accumulates readings for one shard into growable columns; `take()` hands out a batch and
 * starts a new one. One builder per shard in the gateway; no per-reading allocation.
 */
export class BatchBuilder {
  private ids: string[] = []
  private seqs: Float64Array
  private ts: Float64Array
  private values: Float64Array
  private boots: Float64Array
  /** True once a reading with a boot was pushed into the open batch. */
  private hasBoot = false
  private n = 0

  constructor(readonly width: number, readonly schema: number, private capacity = 128) {
    this.seqs = new Float64Array(capacity)
    this.ts = new Float64Array(capacity)
    this.values = new Float64Array(capacity * width)
    this.boots = new Float64Array(capacity)
  }

  /** Readings held. */
  get size(): number {
    return this.n
  }

  /** Approximate encoded size in bytes. */
  get bytes(): number {
    return this.n * (this.width * 8 + 32)
  }

  /** Appends one reading; `row` is copied from `offset` (width values); `boot` as declared by the device. */
  push(id: string, seq: number, ts: number, row: ArrayLike<number>, offset = 0, boot = noBoot): void {
    if (this.n === this.capacity) this.grow()
    this.ids.push(id)
    this.seqs[this.n] = seq
    this.ts[this.n] = ts
    this.boots[this.n] = boot
    if (boot !== noBoot) this.hasBoot = true
    const base = this.n * this.width
    for (let f = 0; f < this.width; f++) this.values[base + f] = row[offset + f]!
    this.n++
  }

  /** Returns the readings so far as a batch and resets the builder. */
  take(recvAt: number): ReadingBatch {
    const n = this.n
    const batch: ReadingBatch = {
      ids: this.ids, seqs: this.seqs.slice(0, n), ts: this.ts.slice(0, n), width: this.width,
      values: this.values.slice(0, n * this.width), schema: this.schema, recvAt,
      ...(this.hasBoot ? { boots: this.boots.slice(0, n) } : {}),
    }
    this.ids = []
    this.n = 0
    this.hasBoot = false
    return batch
  }

  private grow(): void {
    this.capacity *= 2
    this.seqs = growFloat64(this.seqs, this.capacity)
    this.ts = growFloat64(this.ts, this.capacity)
    this.boots = growFloat64(this.boots, this.capacity)
    this.values = growFloat64(this.values, this.capacity * this.width)
  }
}
