import { loadDeviceSchema } from "./config/device-schema.ts"
import { syntheticBatches } from "./actors/sink/internal/synthetic.ts"
import { TsvWriter } from "./actors/sink/tsv.ts"
const schema = loadDeviceSchema()
const bs = syntheticBatches(schema, { devices: 1000, perDevice: 50, startMs: Date.UTC(2026,10,1), intervalMs: 500, batchSize: 100 })
const vals = bs.map(b => b.values)
const N = 50000
const w = new TsvWriter(1<<24)
const enc = new TextEncoder()
for (let rep = 0; rep < 3; rep++) {
  let t0 = performance.now()
  for (const v of vals) for (let i = 0; i < v.length; i++) { w.float(v[i]!); w.byte(9) }
  let out = w.take()
  console.log("float()", Math.round(N / ((performance.now()-t0)/1000)), "rows/s", out.length)
  t0 = performance.now()
  for (const v of vals) for (let i = 0; i < v.length; i++) { const x = v[i]!; w.ascii(x !== x ? "nan" : String(x)); w.byte(9) }
  out = w.take()
  console.log("String()", Math.round(N / ((performance.now()-t0)/1000)), "rows/s", out.length)
  t0 = performance.now()
  let s = ""
  for (const v of vals) for (let i = 0; i < v.length; i++) { const x = v[i]!; s += (x !== x ? "nan" : x) + "\t" }
  const u = enc.encode(s)
  console.log("concat+encode", Math.round(N / ((performance.now()-t0)/1000)), "rows/s", u.length)
}
