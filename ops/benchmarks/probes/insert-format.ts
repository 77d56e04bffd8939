/**
 * Probe (not part of `ops bench`): ClickHouse's CPU to take the sink's telemetry inserts in
 * RowBinary against Native, the same rows encoded by the sink's two binary encoders
 * (actors/sink/internal/row-encoders.ts). A private ClickHouse 18.16 (nice 10, as the benches),
 * the sink's tables; per round and format, `inserts` bodies of 50k rows (200 devices, 48 fields,
 * `syntheticBatches`), one at a time, each into a fresh day so no merge runs between them; the
 * server's CPU from the first insert's start to the last one's answer, in CPU s per 100k rows.
 * Then each format's rows are summed, field by field, to show both stored the same values.
 * docs/benchmarks-history.md quotes it (session of 2026-11-26 evening).
 *
 *   bun ops/benchmarks/probes/insert-format.ts [inserts per round, default 10] [rounds, default 3]
 */
import { loadDeviceSchema } from "../../../config/device-schema.ts"
import { makeClickHouseStore, migrate, nativeEncoder, rowBinaryEncoder, RowColumns, tables, telemetryColumns, type RowEncoder } from "../../../actors/sink/index.ts"
import { startClickHouse } from "../../../tests/harness/index.ts"
import { syntheticBatches } from "../../../tests/support/synthetic-batches.ts"
import { processCpuMs } from "../../lib/cpu.ts"

const inserts = Number(process.argv[2] ?? 10)
const rounds = Number(process.argv[3] ?? 3)
const schema = loadDeviceSchema()
const columns = telemetryColumns(schema)
const width = schema.fields.length
const rowsPerInsert = 50_000
const day = 86_400_000

/** A body of 250 readings of each of 200 devices, 2 ms apart, on day `j` after 2026-11-01; `seed` picks the values. */
const body = (enc: RowEncoder, j: number, seed: number): Uint8Array => {
  const rows = new RowColumns(width, rowsPerInsert)
  for (const b of syntheticBatches(schema, { devices: 200, perDevice: 250, startMs: Date.UTC(2026, 10, 1) + j * day, intervalMs: 2, batchSize: 1000, seed })) {
    for (let i = 0; i < b.ids.length; i++) rows.push(b, i, b.ts[i]!, b.seqs[i]!)
  }
  return enc.encode(rows, 1_795_000_000).body
}

const ch = await startClickHouse({ nice: 10 })
const store = makeClickHouseStore({ url: ch.url, requestTimeoutMs: 300_000 })
try {
  await migrate(store, schema)
  const formats = [["RowBinary", rowBinaryEncoder()], ["Native", nativeEncoder(schema.fields.map((f) => f.name))]] as const
  const results = new Map<string, number[]>(formats.map(([name]) => [name, []]))
  for (let r = 0; r < rounds; r++) {
    for (const [name, enc] of r % 2 === 0 ? formats : [...formats].reverse()) {
      // Each format and round writes its own days, so the two formats' rows can be compared below.
      const first = (formats.findIndex(([n]) => n === name) * rounds + r) * inserts
      const bodies = Array.from({ length: inserts }, (_, j) => body(enc, first + j, r * inserts + j + 1))
      const c0 = processCpuMs(ch.pid)
      for (const b of bodies) await store.insert(tables.telemetry, columns, enc.format, b)
      const cpuS = (processCpuMs(ch.pid) - c0) / 1000
      results.get(name)!.push(cpuS / ((inserts * rowsPerInsert) / 100_000))
      process.stderr.write(`[probe] round ${r + 1} ${name}: ${(bodies[0]!.length / 1e6).toFixed(1)} MB a body, ${(cpuS / ((inserts * rowsPerInsert) / 100_000)).toFixed(3)} CPU s per 100k rows\n`)
    }
  }
  // The same synthetic rows went in through both formats (days differ by format): each day's digest agrees.
  const sums = (name: string) => {
    const base = formats.findIndex(([n]) => n === name) * rounds * inserts
    // An order-free digest of every row, bit for bit (a sum of per-row hashes; a float sum's rounding depends on order).
    const rowHash = `sum(cityHash64(device_id, seq, toUInt32(ts) % 86400, ms, ${schema.fields.map((f) => f.name).join(", ")})) AS h`
    return store.query<Record<string, number>>(
      `SELECT toUInt32((toUInt32(ts) - toUInt32(toDateTime('2026-11-01 00:00:00', 'UTC'))) / 86400) - ${base} AS d, count() AS n, ${rowHash} FROM ${tables.telemetry} ` +
        `WHERE ts >= toDateTime('2026-11-01 00:00:00', 'UTC') + ${base} * 86400 AND ts < toDateTime('2026-11-01 00:00:00', 'UTC') + ${base + rounds * inserts} * 86400 GROUP BY d ORDER BY d`,
    )
  }
  const [a, b] = [await sums("RowBinary"), await sums("Native")]
  const same = JSON.stringify(a) === JSON.stringify(b) && a.length === rounds * inserts
  if (!same) process.stderr.write(`${JSON.stringify(a).slice(0, 300)}\n${JSON.stringify(b).slice(0, 300)}\n`)
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
  console.log(JSON.stringify({
    rows_per_insert: rowsPerInsert, inserts, rounds,
    cpu_s_per_100k: Object.fromEntries([...results].map(([k, v]) => [k, { median: Math.round(median(v) * 1000) / 1000, all: v.map((x) => Math.round(x * 1000) / 1000) }])),
    same_rows_stored: same,
  }))
} finally {
  await store.close()
  await ch.cleanup()
}
