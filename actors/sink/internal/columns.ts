import { growFloat64, type ReadingBatch } from "../../../runtime/batch.ts"

/** Event times a row may have, epoch ms: DateTime as 10-digit seconds (2001-09-09 … 2106-02-07). */
export const minTs = 1_000_000_000_000
export const maxTs = 4_294_967_296_000

/**
 * Whether a reading can be a `telemetry` row in every insert format: its time is a DateTime
 * (18.16 reads a DateTime given as a number in TabSeparated only with exactly 10 digits, RowBinary
 * takes a UInt32) and its seq a UInt64 that a double holds exactly.
 */
export const storable = (t: number, seq: number): boolean =>
  t >= minTs && t < maxTs && seq >= 0 && seq <= Number.MAX_SAFE_INTEGER && Math.floor(seq) === seq

/**
 * Growable columnar buffer of one shard's queued rows (ids, seqs, ts, values row-major). Starts
 * small and doubles, so 64 idle shards cost little; a {@link RowEncoder} turns it into an insert body.
 */
export class RowColumns {
  ids: string[] = []
  seqs: Float64Array
  ts: Float64Array
  values: Float64Array
  n = 0

  constructor(readonly width: number, private capacity = 256) {
    this.seqs = new Float64Array(capacity)
    this.ts = new Float64Array(capacity)
    this.values = new Float64Array(capacity * width)
  }

  /** Copies reading `index` of `batch`; returns false when its width differs (missing fields become NaN, extra ones are dropped). */
  push(batch: ReadingBatch, index: number, t: number, seq: number): boolean {
    if (this.n === this.capacity) this.grow()
    const n = this.n++
    const width = this.width
    this.ids.push(batch.ids[index]!)
    this.seqs[n] = seq
    this.ts[n] = t
    const bw = batch.width
    const src = index * bw
    const dst = n * width
    if (bw === width) {
      // A loop, not set(subarray(...)): a view per row cost more than the copy itself.
      const from = batch.values
      const to = this.values
      for (let f = 0; f < width; f++) to[dst + f] = from[src + f]!
      return true
    }
    for (let f = 0; f < width; f++) this.values[dst + f] = f < bw ? batch.values[src + f]! : NaN
    return false
  }

  /** Drops every queued row. */
  clear(): void {
    this.n = 0
    this.ids = []
  }

  private grow(): void {
    this.capacity *= 2
    this.seqs = growFloat64(this.seqs, this.capacity)
    this.ts = growFloat64(this.ts, this.capacity)
    this.values = growFloat64(this.values, this.capacity * this.width)
  }
}
