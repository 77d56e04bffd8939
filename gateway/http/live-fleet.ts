import type { ReadingBatch } from "../../runtime/batch.ts"

/**
 * The newest reading of every device as it passes on the telemetry subjects: what the
 * dashboard's fleet page shows live (ClickHouse only has readings after the sink's flush, and
 * asking 1,000 actors once a second would cost 1,000 requests). Pure: the node feeds it decoded
 * batches (ops/lib/live-fleet-feed.ts) only while someone is looking.
 */
export class LiveFleet {
  private readonly rows = new Map<string, { at: number; values: Float64Array }>()
  /** Readings seen, and batches refused as malformed (counted, never thrown). */
  readonly metrics = { readings: 0, malformed: 0 }

  constructor(private readonly width: number, private readonly maxDevices = 100_000) {}

  /** Takes the readings of one batch; per device the one with the newest event time wins. */
  add(b: ReadingBatch): void {
    if (b.width !== this.width) {
      this.metrics.malformed++
      return
    }
    for (let i = 0; i < b.ids.length; i++) {
      const id = b.ids[i]!
      const at = b.ts[i]!
      let r = this.rows.get(id)
      if (!r) {
        if (this.rows.size >= this.maxDevices) continue
        r = { at: -1, values: new Float64Array(this.width) }
        this.rows.set(id, r)
      }
      this.metrics.readings++
      if (at < r.at) continue
      r.at = at
      r.values.set(b.values.subarray(i * this.width, (i + 1) * this.width))
    }
  }

  /** Devices known, columnar: ids, event time of the newest reading, and the chosen field columns (null for NaN). */
  snapshot(fields: ReadonlyArray<{ name: string; index: number }>): { ids: string[]; lastAt: number[]; values: Record<string, Array<number | null>> } {
    const ids = [...this.rows.keys()].sort()
    const lastAt: number[] = []
    const values: Record<string, Array<number | null>> = {}
    for (const f of fields) values[f.name] = []
    for (const id of ids) {
      const r = this.rows.get(id)!
      lastAt.push(r.at)
      for (const f of fields) {
        const v = r.values[f.index]!
        values[f.name]!.push(Number.isNaN(v) ? null : v)
      }
    }
    return { ids, lastAt, values }
  }

  /** Forgets everything (the feed stopped, so what is held would go stale). */
  clear(): void {
    this.rows.clear()
  }
}
