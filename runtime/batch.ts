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

/** Powers of ten a column may be scaled by: up to 9 decimals (GPS at 1e-6°, J1939 resolutions). */
const pow10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]
/** Marks a missing value (NaN) in a scaled column; no value is scaled to it. */
const missing = -2147483648
/** Scale of a column that travels as Float64 (not every value is an int32 over a power of ten). */
const float64Column = -1

/**
 * Writes column `f` of row-major `v` into `out` from `at` as int32 `q` with every value exactly
 * `q / 10^k` for the fewest decimals `k` that hold for the whole column, and returns `k`; or
 * {@link float64Column} when none does (a -0, a non-finite value, a value out of int32's range or
 * with too many digits). NaN is written as {@link missing}. Values that devices send as decimal
 * text nearly always fit: the integer divided by the power of ten rounds to the same double the
 * text parsed to, which `q / p === x` checks for each value. A value that needs more decimals
 * than the ones before it starts the column again with the next power of ten.
 */
const scaleColumn = (v: Float64Array, n: number, width: number, f: number, out: Int32Array, at: number): number => {
  for (let k = 0; k < pow10.length; k++) {
    const p = pow10[k]!
    let i = 0
    for (let j = f; i < n; i++, j += width) {
      const x = v[j]!
      if (x !== x) {
        out[at + i] = missing
        continue
      }
      // Rounded to nearest as an int32 (`| 0`): a value out of its range wraps by a multiple of
      // 2^32, so `q / p` is then far from x and the check fails, as it does for -0 and missing.
      const y = x * p
      const q = (y < 0 ? y - 0.5 : y + 0.5) | 0
      if (q / p !== x || q === missing || (q === 0 && 1 / x < 0)) break
      out[at + i] = q
    }
    if (i === n) return k
    const x = v[f + i * width]!
    // -0, ±Infinity: no power of ten helps
    if (x - x !== 0 || x === 0) return float64Column
  }
  return float64Column
}

/** Column-major wire form of row-major `values`: each column scaled to int32 where that is exact, else Float64. */
const packValues = (v: Float64Array, n: number, width: number): [Int8Array, Int32Array, Float64Array] => {
  const scales = new Int8Array(width)
  const ints = new Int32Array(width * n)
  let io = 0
  let floatCols = 0
  for (let f = 0; f < width; f++) {
    scales[f] = scaleColumn(v, n, width, f, ints, io)
    if (scales[f] === float64Column) floatCols++
    else io += n
  }
  const floats = new Float64Array(floatCols * n)
  if (floatCols > 0) {
    let fo = 0
    for (let f = 0; f < width; f++) {
      if (scales[f] !== float64Column) continue
      for (let i = 0, j = f; i < n; i++, j += width) floats[fo + i] = v[j]!
      fo += n
    }
  }
  return [scales, io === ints.length ? ints : ints.subarray(0, io), floats]
}

/** Row-major Float64 values back from {@link packValues}' columns; undefined when their sizes disagree. */
const unpackValues = (scales: Int8Array, ints: Int32Array, floats: Float64Array, n: number, width: number): Float64Array | undefined => {
  let intCols = 0
  for (let f = 0; f < width; f++) {
    const k = scales[f]!
    if (k !== float64Column && (k < 0 || k >= pow10.length)) return undefined
    if (k !== float64Column) intCols++
  }
  if (ints.length !== intCols * n || floats.length !== (width - intCols) * n) return undefined
  const v = new Float64Array(n * width)
  let io = 0
  let fo = 0
  for (let f = 0; f < width; f++) {
    const k = scales[f]!
    if (k === float64Column) {
      for (let i = 0, j = f; i < n; i++, j += width) v[j] = floats[fo + i]!
      fo += n
      continue
    }
    const p = pow10[k]!
    for (let i = 0, j = f; i < n; i++, j += width) {
      const q = ints[io + i]!
      v[j] = q === missing ? Number.NaN : q / p
    }
    io += n
  }
  return v
}

/**
 * Encodes a batch with msgpackr; typed arrays travel as raw bytes. Version 2 carries the values
 * column by column, each as int32 over a power of ten where that gives back every value bit for
 * bit, else as Float64 (a bus's 48 values: ≈ 200 bytes a reading instead of 384; JetStream's cost
 * at the top of the e2e ramp is per byte). The boots column is written only when a reading has
 * a boot. Version 1 (one Float64Array of values) is still read.
 */
export const encodeBatch = (b: ReadingBatch): Uint8Array => {
  const [scales, ints, floats] = packValues(b.values, b.ids.length, b.width)
  return packr.pack(b.boots === undefined
    ? [2, b.ids, b.seqs, b.ts, b.width, scales, ints, floats, b.schema, b.recvAt]
    : [2, b.ids, b.seqs, b.ts, b.width, scales, ints, floats, b.schema, b.recvAt, b.boots])
}

/** Thrown by {@link decodeBatch} when the bytes are not a valid batch. */
export class BatchDecodeError extends Error {
  override readonly name = "BatchDecodeError"
  readonly _tag = "BatchDecodeError"
}

/** Decodes and checks a batch produced by {@link encodeBatch} (version 2) or by an older gateway (version 1). */
export const decodeBatch = (bytes: Uint8Array): ReadingBatch => {
  const raw = packr.unpack(bytes) as unknown
  if (!Array.isArray(raw) || (raw[0] !== 1 && raw[0] !== 2)) throw new BatchDecodeError("not an akis reading batch (version 1 or 2)")
  let ids: string[], seqs: Float64Array, ts: Float64Array, width: number, values: Float64Array | undefined, schema: number, recvAt: number
  let boots: Float64Array | undefined
  if (raw[0] === 1) {
    ;[, ids, seqs, ts, width, values, schema, recvAt, boots] = raw as [
      number, string[], Float64Array, Float64Array, number, Float64Array, number, number, Float64Array | undefined,
    ]
    if (!(values instanceof Float64Array)) values = undefined
  } else {
    let scales: unknown, ints: unknown, floats: unknown
    ;[, ids, seqs, ts, width, scales, ints, floats, schema, recvAt, boots] = raw as [
      number, string[], Float64Array, Float64Array, number, unknown, unknown, unknown, number, number, Float64Array | undefined,
    ]
    const n = Array.isArray(ids) ? ids.length : -1
    values = n >= 0 && Number.isInteger(width) && width >= 0 && scales instanceof Int8Array && scales.length === width &&
        ints instanceof Int32Array && floats instanceof Float64Array
      ? unpackValues(scales, ints, floats, n, width)
      : undefined
  }
  const n = Array.isArray(ids) ? ids.length : -1
  if (
    n < 0 || !(seqs instanceof Float64Array) || !(ts instanceof Float64Array) || values === undefined ||
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

  /**
   * Encodes the readings so far ({@link encodeBatch}) straight from the builder's columns, without
   * the copies {@link take} makes, and resets the builder: the gateway's path, which keeps only the bytes.
   */
  encode(recvAt: number): Uint8Array {
    // Views are safe here: encodeBatch has copied them into the bytes before the next push.
    return encodeBatch(this.cut(recvAt, (a, end) => a.subarray(0, end)))
  }

  /** Returns the readings so far as a batch and resets the builder. */
  take(recvAt: number): ReadingBatch {
    return this.cut(recvAt, (a, end) => a.slice(0, end))
  }

  /** The open batch with each column as `part` gives it (a view or a copy), and a fresh one started. */
  private cut(recvAt: number, part: (a: Float64Array, end: number) => Float64Array): ReadingBatch {
    const n = this.n
    const batch: ReadingBatch = {
      ids: this.ids, seqs: part(this.seqs, n), ts: part(this.ts, n), width: this.width,
      values: part(this.values, n * this.width), schema: this.schema, recvAt,
      ...(this.hasBoot ? { boots: part(this.boots, n) } : {}),
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
