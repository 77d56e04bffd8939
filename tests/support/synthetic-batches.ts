import type { DeviceSchema } from "../../config/device-schema.ts"
import type { ReadingBatch } from "../../runtime/batch.ts"

/**
 * Deterministic synthetic readings for tests and benchmarks: `devices` devices (`bus-0000`…),
 * `perDevice` readings each, `intervalMs` apart from `startMs`, values within each field's range
 * with at most two decimals (what real sensors send), every 7th value of field 5 not sent (NaN).
 * Returned as batches of `batchSize` readings in time order, interleaved across devices.
 */
export const syntheticBatches = (
  schema: DeviceSchema,
  o: { devices: number; perDevice: number; startMs: number; intervalMs: number; batchSize: number; seed?: number },
): ReadingBatch[] => {
  const width = schema.fields.length
  const total = o.devices * o.perDevice
  const out: ReadingBatch[] = []
  let x = (o.seed ?? 1) >>> 0
  const rnd = () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return x / 4294967296
  }
  for (let start = 0; start < total; start += o.batchSize) {
    const n = Math.min(o.batchSize, total - start)
    const ids: string[] = []
    const seqs = new Float64Array(n)
    const ts = new Float64Array(n)
    const values = new Float64Array(n * width)
    for (let i = 0; i < n; i++) {
      const k = start + i
      const dev = k % o.devices
      const seq = Math.floor(k / o.devices) + 1
      ids.push(`bus-${String(dev).padStart(4, "0")}`)
      seqs[i] = seq
      ts[i] = o.startMs + (seq - 1) * o.intervalMs + (dev % 100)
      for (let f = 0; f < width; f++) {
        const spec = schema.fields[f]!
        const v = spec.min + rnd() * (spec.max - spec.min)
        values[i * width + f] = f === 5 && seq % 7 === 0 ? NaN
          : spec.kind === "float" ? Math.round(v * 100) / 100 : Math.round(v)
      }
    }
    out.push({ ids, seqs, ts, width, values, schema: schema.version, recvAt: o.startMs })
  }
  return out
}
