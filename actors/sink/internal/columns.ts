import { growFloat64, type ReadingBatch } from "../../../runtime/batch.ts"
import { escapeTsv, TsvWriter } from "../tsv.ts"

/** Event times a row may have, epoch ms: DateTime as 10-digit seconds (2001-09-09 … 2106-02-07). */
export const minTs = 1_000_000_000_000
export const maxTs = 4_294_967_296_000

/**
 * Growable columnar buffer of one shard's queued rows (ids, seqs, ts, values row-major). Starts
 * small and doubles, so 64 idle shards cost little; `format` turns it into a TSV body.
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

  /** Copies reading `index` of `batch`; returns false when its width differs (missing fields become NaN). */
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
      this.values.set(batch.values.subarray(src, src + width), dst)
      return true
    }
    for (let f = 0; f < width; f++) this.values[dst + f] = f < bw ? batch.values[src + f]! : NaN
    return false
  }

  /** Writes the rows as TabSeparated (telemetry column order) and empties the buffer. */
  format(w: TsvWriter, ingestedSec: number, idBytes: (id: string) => Uint8Array): Uint8Array {
    const { ids, seqs, ts, values, width } = this
    for (let i = 0; i < this.n; i++) {
      const t = ts[i]!
      const sec = Math.floor(t / 1000)
      w.bytes(idBytes(ids[i]!))
      w.byte(9)
      w.uint(seqs[i]!)
      w.byte(9)
      w.uint(sec)
      w.byte(9)
      w.uint(Math.floor(t - sec * 1000))
      w.byte(9)
      w.uint(ingestedSec)
      const base = i * width
      for (let f = 0; f < width; f++) {
        w.byte(9)
        w.float(values[base + f]!)
      }
      w.byte(10)
    }
    this.n = 0
    this.ids = []
    return w.take()
  }

  private grow(): void {
    this.capacity *= 2
    this.seqs = growFloat64(this.seqs, this.capacity)
    this.ts = growFloat64(this.ts, this.capacity)
    this.values = growFloat64(this.values, this.capacity * this.width)
  }
}

/** Escaped UTF-8 bytes of device ids, cached (ids repeat in every batch). */
export const idByteCache = (limit = 100_000): ((id: string) => Uint8Array) => {
  const cache = new Map<string, Uint8Array>()
  const encoder = new TextEncoder()
  return (id) => {
    let b = cache.get(id)
    if (b === undefined) {
      if (cache.size > limit) cache.clear()
      b = encoder.encode(escapeTsv(id))
      cache.set(id, b)
    }
    return b
  }
}
