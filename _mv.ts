import { loadDeviceSchema } from "./config/device-schema.ts"
import { syntheticBatches } from "./actors/sink/internal/synthetic.ts"
import { makeClickHouseStore, migrate, telemetryColumns } from "./actors/sink/index.ts"
import { TsvWriter } from "./actors/sink/tsv.ts"
import { startClickHouse } from "./tests/harness/index.ts"
const schema = loadDeviceSchema()
const ch = await startClickHouse()
const store = makeClickHouseStore({ url: ch.url })
await migrate(store, schema)
const bs = syntheticBatches(schema, { devices: 1000, perDevice: 100, startMs: Date.UTC(2026,10,1), intervalMs: 500, batchSize: 50000 })
const bodies = bs.map(b => { const w = new TsvWriter(); for (let i=0;i<b.ids.length;i++){ w.ascii(b.ids[i]!); w.byte(9); w.uint(b.seqs[i]!); w.byte(9); w.uint(Math.floor(b.ts[i]!/1000)); w.byte(9); w.uint(b.ts[i]!%1000); w.byte(9); w.uint(1795000000); for (let f=0;f<48;f++){w.byte(9); w.float(b.values[i*48+f]!)} w.byte(10)} return w.take() })
const cols = telemetryColumns(schema)
const run = async (name: string, conc: number) => {
  for (let rep=0; rep<3; rep++) {
    await store.exec("TRUNCATE TABLE telemetry"); await store.exec("TRUNCATE TABLE telemetry_1m")
    const t0 = performance.now()
    let k = 0
    await Promise.all(Array.from({length: conc}, async () => { while (k < bodies.length) await store.insert("telemetry", cols, "TabSeparated", bodies[k++]!) }))
    console.log(name, conc, Math.round(100000/((performance.now()-t0)/1000)))
  }
}
await run("with MV", 1); await run("with MV", 2)
await store.exec("DROP TABLE telemetry_1m_mv")
await run("no MV", 1); await run("no MV", 2)
await store.close(); await ch.cleanup()
