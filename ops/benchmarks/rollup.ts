/**
 * `ops bench rollup`: ClickHouse 18.16 server CPU per 100k rows inserted, old layout (a
 * materialized view keeping `AggregatingMergeTree` states on every insert) against the new one
 * (plain inserts, then one rollup-job pass over the same rows), in alternating runs on one private
 * server. The same sink-encoded RowBinary bodies go to both; server CPU is `/proc/<pid>/stat`.
 * Merges that happen in the measured window count to the side that caused them.
 */
import { createClient } from "@clickhouse/client"
import { Readable } from "node:stream"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { makeClickHouseStore, makeSink, migrate, runRollup, telemetryColumns, type Store } from "../../actors/sink/index.ts"
import { syntheticBatches } from "../../tests/support/synthetic-batches.ts"
import { startClickHouse } from "../../tests/harness/index.ts"
import { processCpuMs } from "../lib/cpu.ts"
import type { Benchmark } from "./index.ts"

const schema = loadDeviceSchema()
const columns = telemetryColumns(schema)
const log = (s: string) => process.stderr.write(`${s}\n`)
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b)
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!
const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d
const spread = (xs: number[]) => ({ median: round(median(xs)), min: round(sorted(xs)[0]!), max: round(sorted(xs).at(-1)!) })

/** The pre-job layout (what `migrate` now replaces), on a copy of telemetry. */
const legacyDdl = (): string[] => {
  const st = schema.fields.flatMap((f) => [
    [`${f.name}_avg`, "avgIf"], [`${f.name}_min`, "minIf"], [`${f.name}_max`, "maxIf"],
  ] as const)
  return [
    "CREATE TABLE telemetry_legacy AS telemetry",
    `CREATE TABLE telemetry_1m_legacy (device_id String, minute DateTime('UTC'), n AggregateFunction(count), u AggregateFunction(uniqExact, UInt64), ${
      st.map(([c, fn]) => `${c} AggregateFunction(${fn}, Float64, UInt8)`).join(", ")
    }) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMMDD(minute) ORDER BY (device_id, minute)`,
    `CREATE MATERIALIZED VIEW telemetry_1m_legacy_mv TO telemetry_1m_legacy AS SELECT device_id, toStartOfMinute(ts) AS minute, countState() AS n, uniqExactState(seq) AS u, ${
      st.map(([c, fn]) => `${fn}State(${c.slice(0, c.lastIndexOf("_"))}, NOT isNaN(${c.slice(0, c.lastIndexOf("_"))})) AS ${c}`).join(", ")
    } FROM telemetry_legacy GROUP BY device_id, minute`,
  ]
}

export default {
  description: "ClickHouse CPU per 100k rows inserted: rollup view on the insert path (old) vs plain inserts + the periodic rollup job (new), alternating",
  async run({ runs }) {
    const reps = runs ?? 5
    const ch = await startClickHouse()
    const client = createClient({ url: ch.url, keep_alive: { enabled: true, idle_socket_ttl: 2000 } })
    const store: Store = makeClickHouseStore({ url: ch.url })
    try {
      await migrate(store, schema)
      for (const ddl of legacyDdl()) await store.exec(ddl)
      const n = 100_000
      const start = Date.UTC(2026, 10, 1)
      // 2,000 devices at 1 reading/s: 50 s of readings, 2,000-4,000 device-minutes.
      const batches = syntheticBatches(schema, { devices: 2000, perDevice: n / 2000, startMs: start, intervalMs: 1000, batchSize: 100 })
      const encodedAt = Date.now() // the sink stamps `ingested` with this clock
      const bodies: Uint8Array[] = []
      const capture: Store = {
        kind: "clickhouse", binaryInsert: true, exec: async () => {}, query: async () => [], close: async () => {},
        insert: async (_t, _c, _f, body) => void bodies.push(body as Uint8Array),
      }
      const sink = makeSink(capture, schema, { batchRows: 10_000, flushMs: 1000, maxInflight: 2, retryMinMs: 100, retryMaxMs: 1000, fence: async () => true })
      batches.forEach((b, k) => {
        for (let i = 0; i < b.ids.length; i++) sink.add(b, i, k + 1)
        sink.processed(k + 1)
      })
      await sink.flush()
      await sink.close()
      const insert = async (table: string) => {
        for (let i = 0; i < bodies.length; i += 2) {
          await Promise.all(bodies.slice(i, i + 2).map(async (b) => {
            const r = await client.exec({ query: `INSERT INTO ${table} (${columns.join(", ")}) FORMAT RowBinary`, values: Readable.from([b], { objectMode: false }) })
            for await (const _ of r.stream) void _
          }))
        }
      }
      const cpu = async (f: () => Promise<unknown>) => {
        const c0 = processCpuMs(ch.pid)
        await f()
        return processCpuMs(ch.pid) - c0
      }
      const settleMs = 3000 // background merges of the parts just written land in the window
      const old: number[] = []
      const plain: number[] = []
      const job: number[] = []
      let rollupRows = 0
      for (let r = 0; r < reps; r++) {
        for (const t of ["telemetry", "telemetry_1m", "telemetry_1m_runs", "telemetry_legacy", "telemetry_1m_legacy"]) await store.exec(`TRUNCATE TABLE ${t}`)
        const order = r % 2 === 0 ? ["old", "new"] : ["new", "old"]
        for (const side of order) {
          if (side === "old") {
            old.push(await cpu(async () => { await insert("telemetry_legacy"); await Bun.sleep(settleMs) }))
          } else {
            // A steady-state run: an earlier run left its state, this one finds the minutes the new
            // rows touched through `ingested` (the incremental path, not the first run's backfill).
            const opts = { graceS: 10, overlapS: 300, backfillDays: Math.ceil((encodedAt - start) / 86_400_000) + 2 }
            await runRollup(store, schema, { ...opts, now: encodedAt - 600_000 })
            plain.push(await cpu(async () => { await insert("telemetry"); await Bun.sleep(settleMs) }))
            job.push(await cpu(async () => {
              rollupRows = (await runRollup(store, schema, { ...opts, now: encodedAt + 60_000 })).rows
              await Bun.sleep(settleMs)
            }))
          }
        }
        log(`run ${r + 1}/${reps}: old (view) ${round(old.at(-1)!)} ms, new insert ${round(plain.at(-1)!)} ms + job ${round(job.at(-1)!)} ms (server CPU per 100k rows)`)
      }
      const total = plain.map((p, i) => p + job[i]!)
      return {
        rows: n, runs: reps, rollup_rows: rollupRows, settle_ms: settleMs,
        server_cpu_ms_per_100k: { old_view: spread(old), new_insert: spread(plain), new_job: spread(job), new_total: spread(total) },
        saved_fraction: round(1 - median(total) / median(old), 2),
        note: "medians with min/max of alternating runs; a loaded machine makes them noisy",
        clickhouse: "18.16.1",
      }
    } finally {
      await client.close()
      await store.close()
      await ch.cleanup()
    }
  },
} satisfies Benchmark
