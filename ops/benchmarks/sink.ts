/**
 * `ops bench sink`: rows/s through the ClickHouse sink against raw @clickhouse/client inserts of
 * the same rows in the same run (on a private ClickHouse 18.16), plus one device-day history
 * query. The raw client is imported here on purpose: it is the yardstick. Insert formats
 * (Native, the HTTP store's, vs TabSeparated) are compared by rows/s and by CPU per 100k rows,
 * ours (`process.cpuUsage`) and the server's (`/proc/<pid>/stat` utime + stime).
 */
import { createClient } from "@clickhouse/client"
import { Readable } from "node:stream"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import type { ReadingBatch } from "../../runtime/batch.ts"
import { makeClickHouseStore, makeSink, migrate, readings, runRollup, telemetryColumns, type Store } from "../../actors/sink/index.ts"
import { syntheticBatches } from "../../tests/support/synthetic-batches.ts"
import { TsvWriter } from "../../actors/sink/tsv.ts"
import { startClickHouse } from "../../tests/harness/index.ts"
import { processCpuMs } from "../lib/cpu.ts"
import type { Benchmark } from "./index.ts"

const schema = loadDeviceSchema()
const columns = telemetryColumns(schema)
const width = schema.fields.length
const log = (s: string) => process.stderr.write(`${s}\n`)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d

const ownCpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** One measured path: median rows/s and median CPU per run of 100k rows, ours and the server's. */
interface Timing {
  readonly rate: number
  /** Slowest and fastest run, rows/s. */
  readonly spread: readonly [number, number]
  readonly clientMs: number
  readonly serverMs: number
}

/** A store that keeps every body it is given and stores nothing (the sink's own CPU, no HTTP). */
const captureStore = (binaryInsert: boolean) => {
  const bodies: Uint8Array[] = []
  const store: Store = {
    kind: "clickhouse", binaryInsert,
    exec: async () => {},
    query: async () => [],
    insert: async (_t, _c, _f, body) => void bodies.push(typeof body === "string" ? new TextEncoder().encode(body) : body),
    close: async () => {},
  }
  return { store, bodies }
}

/** The same readings as plain rows, what a straightforward client user would hold. */
const rowsOf = (batches: ReadingBatch[], ingested: number): Array<Array<string | number>> => {
  const out: Array<Array<string | number>> = []
  for (const b of batches) {
    for (let i = 0; i < b.ids.length; i++) {
      const t = b.ts[i]!
      const row: Array<string | number> = [b.ids[i]!, b.seqs[i]!, Math.floor(t / 1000), t % 1000, ingested]
      for (let f = 0; f < width; f++) row.push(b.values[i * width + f]!)
      out.push(row)
    }
  }
  return out
}

const chunked = <T>(xs: T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n))

/** Runs `work` over `items` with `concurrency` in flight. */
const pool = async <T>(items: T[], concurrency: number, work: (x: T) => Promise<void>) => {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await work(items[next++]!)
  }))
}

export default {
  description: "rows/s into ClickHouse 18.16 through the sink vs raw @clickhouse/client inserts; device-day history query ms",
  async run({ runs }) {
    const reps = runs ?? 3
    const ch = await startClickHouse()
    const client = createClient({ url: ch.url, keep_alive: { enabled: true, idle_socket_ttl: 2000 } })
    const store: Store = makeClickHouseStore({ url: ch.url })
    try {
      await migrate(store, schema)
      const n = 100_000
      const batchRows = 10_000
      const concurrency = 2
      const start = Date.UTC(2026, 10, 1)
      const batches = syntheticBatches(schema, { devices: 1000, perDevice: n / 1000, startMs: start, intervalMs: 500, batchSize: 100 })
      const ingested = Math.floor(start / 1000)
      const rows = rowsOf(batches, ingested)
      // Where the server's CPU goes: parsing alone (Null engine), + writing parts. Since the rollup
      // job replaced the view, `telemetry_plain` and `telemetry` are the same; `ops bench rollup`
      // compares with the old view.
      await store.exec("CREATE TABLE telemetry_null AS telemetry ENGINE = Null")
      await store.exec("CREATE TABLE telemetry_plain AS telemetry")
      const truncate = async () => {
        await store.exec("TRUNCATE TABLE telemetry")
        await store.exec("TRUNCATE TABLE telemetry_1m")
        await store.exec("TRUNCATE TABLE telemetry_plain")
      }
      const timedCpu = async (name: string, f: () => Promise<void>, server = true): Promise<Timing> => {
        const rates: number[] = []
        const client: number[] = []
        const srv: number[] = []
        for (let r = 0; r < reps; r++) {
          if (server) await truncate()
          const [c0, s0, t0] = [ownCpuMs(), processCpuMs(ch.pid), performance.now()]
          await f()
          rates.push(n / ((performance.now() - t0) / 1000))
          client.push(ownCpuMs() - c0)
          srv.push(processCpuMs(ch.pid) - s0)
        }
        const t = { rate: median(rates), spread: [Math.min(...rates), Math.max(...rates)] as const, clientMs: median(client), serverMs: server ? median(srv) : 0 }
        log(`${name.padEnd(32)} ${round(t.rate).toLocaleString().padStart(10)} rows/s   CPU per 100k rows: bench ${round(t.clientMs)} ms, server ${
          server ? `${round(t.serverMs)} ms` : "-"
        } (median of ${reps})`)
        return t
      }
      const timed = async (name: string, f: () => Promise<void>): Promise<number> => (await timedCpu(name, f)).rate
      const feedSink = async (s: Store) => {
        const sink = makeSink(s, schema, {
          batchRows, flushMs: 1000, maxInflight: concurrency, retryMinMs: 100, retryMaxMs: 1000, fence: async () => true,
        })
        batches.forEach((b, k) => {
          for (let i = 0; i < b.ids.length; i++) sink.add(b, i, k + 1)
          sink.processed(k + 1)
        })
        await sink.flush()
        await sink.close()
      }
      const execBody = (fmt: string, body: Buffer | Uint8Array, table = "telemetry") =>
        client.exec({ query: `INSERT INTO ${table} (${columns.join(", ")}) FORMAT ${fmt}`, values: Readable.from([body], { objectMode: false }) })
          .then(async (r) => {
            for await (const _ of r.stream) void _
          })
      const text = (sep: string) => (rs: Array<Array<string | number>>) =>
        Buffer.from(rs.map((r) => r.map((v) => (typeof v === "number" && Number.isNaN(v) ? "nan" : v)).join(sep)).join("\n") + "\n")

      // --- raw client paths (format + insert), same rows, same batch size and concurrency ---
      const rowChunks = chunked(rows, batchRows)
      const jsonObjects = await timed("raw JSONEachRow objects", () =>
        pool(rowChunks, concurrency, async (c) => {
          await client.insert({
            table: "telemetry", format: "JSONEachRow",
            values: c.map((r) => Object.fromEntries(columns.map((k, i) => [k, Number.isNaN(r[i]) ? "nan" : r[i]]))),
            clickhouse_settings: { input_format_skip_unknown_fields: 0 },
          })
        }))
      const tsvJoin = await timed("raw TSV row.join", () => pool(rowChunks, concurrency, (c) => execBody("TabSeparated", text("\t")(c))))
      const csvJoin = await timed("raw CSV row.join", () => pool(rowChunks, concurrency, (c) => execBody("CSV", text(",")(c))))
      const prebuilt = rowChunks.map(text("\t"))
      const insertOnly = await timed("raw TSV pre-formatted", () => pool(prebuilt, concurrency, (b) => execBody("TabSeparated", b)))
      const writerChunks = chunked(batches, batchRows / 100)
      const tsvWriter = await timed("raw TSV TsvWriter", () =>
        pool(writerChunks, concurrency, async (bs) => {
          const w = new TsvWriter(1 << 20)
          for (const b of bs) {
            for (let i = 0; i < b.ids.length; i++) {
              const t = b.ts[i]!
              w.ascii(b.ids[i]!)
              w.byte(9); w.uint(b.seqs[i]!); w.byte(9); w.uint(Math.floor(t / 1000)); w.byte(9); w.uint(t % 1000); w.byte(9); w.uint(ingested)
              for (let f = 0; f < width; f++) {
                w.byte(9)
                w.float(b.values[i * width + f]!)
              }
              w.byte(10)
            }
          }
          await execBody("TabSeparated", w.take())
        }))

      // --- the sink's own work (columns + encoding, no HTTP), then its bodies inserted as they are ---
      const encodeTsv = await timedCpu("sink encode only, TSV", () => feedSink(captureStore(false).store), false)
      const encodeRb = await timedCpu("sink encode only, Native", () => feedSink(captureStore(true).store), false)
      const capturedTsv = captureStore(false)
      const capturedRb = captureStore(true)
      await feedSink(capturedTsv.store)
      await feedSink(capturedRb.store)
      const insertTsv = await timedCpu("insert only, sink's TSV bodies", () => pool(capturedTsv.bodies, concurrency, (b) => execBody("TabSeparated", b)))
      const insertRb = await timedCpu("insert only, sink's Native", () => pool(capturedRb.bodies, concurrency, (b) => execBody("Native", b)))
      const into = (table: string, fmt: string, bodies: Uint8Array[]) => () => pool(bodies, concurrency, (b) => execBody(fmt, b, table))
      const nullTsv = await timedCpu("  into Null engine, TSV", into("telemetry_null", "TabSeparated", capturedTsv.bodies))
      const nullRb = await timedCpu("  into Null engine, Native", into("telemetry_null", "Native", capturedRb.bodies))
      const plainTsv = await timedCpu("  no rollup view, TSV", into("telemetry_plain", "TabSeparated", capturedTsv.bodies))
      const plainRb = await timedCpu("  no rollup view, Native", into("telemetry_plain", "Native", capturedRb.bodies))

      // --- through the sink: add/processed per stream batch, then flush (Native: the HTTP store's format) ---
      const sinkTsv = await timedCpu("sink, TSV (binaryInsert off)", () => feedSink({ ...store, binaryInsert: false }))
      // The sink's ceiling, measured the way the sink inserts: the very bodies it sent in a run
      // (recorded on their way to the store, so the same sizes: a store that answers at once makes
      // the sink cut smaller bodies), inserted again through the same store (same HTTP client), with
      // the same concurrency, next to a sink run (alternating which goes first) so both see the
      // same machine state.
      const ceilingRuns: number[] = []
      const sinkRuns: number[] = []
      const sinkCpu: Array<[number, number]> = []
      const sentBodies: number[] = []
      let sent: Uint8Array[] = []
      const sinkRun = async () => {
        sent = []
        const recording: Store = { ...store, insert: (t, c, f, b) => (sent.push(typeof b === "string" ? new TextEncoder().encode(b) : b), store.insert(t, c, f, b)) }
        await truncate()
        const [c0, s0, t0] = [ownCpuMs(), processCpuMs(ch.pid), performance.now()]
        await feedSink(recording)
        sinkRuns.push(n / ((performance.now() - t0) / 1000))
        sinkCpu.push([ownCpuMs() - c0, processCpuMs(ch.pid) - s0])
        sentBodies.push(sent.length)
      }
      const ceilingRun = async (bodies: Uint8Array[]) => {
        await truncate()
        const t0 = performance.now()
        await pool(bodies, concurrency, (b) => store.insert("telemetry", columns, "Native", b))
        ceilingRuns.push(n / ((performance.now() - t0) / 1000))
      }
      // One sink run records the bodies; then, in turn which goes first, the ceiling and the sink.
      await sinkRun()
      sinkRuns.length = 0
      sinkCpu.length = 0
      sentBodies.length = 0
      for (let r = 0; r < reps; r++) {
        const bodies = sent
        if (r % 2 === 0) {
          await ceilingRun(bodies)
          await sinkRun()
        } else {
          await sinkRun()
          await ceilingRun(bodies)
        }
      }
      const sinkRb: Timing = {
        rate: median(sinkRuns), spread: [Math.min(...sinkRuns), Math.max(...sinkRuns)], clientMs: median(sinkCpu.map((c) => c[0])), serverMs: median(sinkCpu.map((c) => c[1])),
      }
      const ceiling = { rate: median(ceilingRuns), spread: [Math.min(...ceilingRuns), Math.max(...ceilingRuns)] as const }
      log(`sink, Native ${round(sinkRb.rate)} rows/s (${round(sinkRb.spread[0])}–${round(sinkRb.spread[1])}); ceiling, its bodies through the same store ${round(ceiling.rate)} rows/s (${round(ceiling.spread[0])}–${round(ceiling.spread[1])})`)
      const sinkRate = sinkRb.rate
      const raw = Math.max(jsonObjects, tsvJoin, csvJoin)

      // --- one device-day (2 readings/s = 172,800 rows) next to other devices' data ---
      log("loading one device-day (172,800 rows) for the history query")
      const day = Date.UTC(2026, 10, 2)
      const dayBatches = syntheticBatches(schema, { devices: 1, perDevice: 172_800, startMs: day, intervalMs: 500, batchSize: 1000 })
      const sink = makeSink(store, schema, { batchRows: 50_000, flushMs: 1000, maxInflight: 2, retryMinMs: 100, retryMaxMs: 1000, fence: async () => true })
      dayBatches.forEach((b, k) => {
        for (let i = 0; i < b.ids.length; i++) sink.add(b, i, k + 1)
        sink.processed(k + 1)
      })
      await sink.flush()
      await sink.close()
      // The rollup job's pass over that day (as the elected node runs it every minute), so
      // minute-or-wider history reads the rollup: its watermark is past every row just ingested.
      await runRollup(store, schema, { now: Date.now() + 120_000, graceS: 10, overlapS: 30, backfillDays: Math.ceil((Date.now() - day) / 86_400_000) + 1 })
      const q = { device: "bus-0000", from: day, to: day + 86_399_999, points: 1000, fields: ["speed_kmh", "engine_rpm", "coolant_temp_c", "fuel_level_pct"] }
      const timeQuery = async (f: () => Promise<unknown>) => {
        await f()
        const ms: number[] = []
        for (let r = 0; r < 7; r++) {
          const t0 = performance.now()
          await f()
          ms.push(performance.now() - t0)
        }
        return round(median(ms), 1)
      }
      const historyMs = await timeQuery(() => readings(store, schema, q))
      const historyRawMs = await timeQuery(() => readings(store, schema, { ...q, source: "raw" }))
      const historyAllFieldsMs = await timeQuery(() => readings(store, schema, { ...q, fields: undefined, source: "raw" }))
      const where = `device_id = 'bus-0000' AND ts >= toDateTime(${day / 1000}) AND ts < toDateTime(${day / 1000 + 86400})`
      const finalMs = await timeQuery(() => store.query(`SELECT count() AS c, avg(speed_kmh) AS a FROM telemetry FINAL WHERE ${where}`))
      const limitByMs = await timeQuery(() =>
        store.query(`SELECT count() AS c, avg(speed_kmh) AS a FROM (SELECT seq, speed_kmh FROM telemetry WHERE ${where} ORDER BY ts, seq LIMIT 1 BY seq)`))
      const plainMs = await timeQuery(() => store.query(`SELECT count() AS c, avg(speed_kmh) AS a FROM telemetry WHERE ${where}`))
      await store.exec("OPTIMIZE TABLE telemetry FINAL")
      const [bpr] = await store.query<{ b: number; r: number }>(
        "SELECT sumIf(bytes_on_disk, table = 'telemetry') / sumIf(rows, table = 'telemetry') AS b, " +
          "sumIf(bytes_on_disk, table IN ('telemetry', 'telemetry_1m')) / sumIf(rows, table = 'telemetry') AS r " +
          "FROM system.parts WHERE active AND database = currentDatabase()",
      )
      return {
        rows: n, batch_rows: batchRows, concurrency, runs: reps,
        // Medians of `runs`, with the slowest and fastest run.
        rows_per_s: round(sinkRate),
        rows_per_s_spread: sinkRb.spread.map((x) => round(x)),
        // The ceiling: the sink's own bodies inserted through the same store, alternating with it.
        ceiling_rows_per_s: round(ceiling.rate),
        ceiling_rows_per_s_spread: ceiling.spread.map((x) => round(x)),
        sink_inserts_per_run: sentBodies,
        ratio: round(sinkRate / ceiling.rate, 3),
        // For comparison, not a ceiling: the best ordinary @clickhouse/client path formatting the same rows (text formats).
        raw_rows_per_s: round(raw),
        ratio_vs_raw_client: round(sinkRate / raw, 3),
        raw_json_objects_rows_per_s: round(jsonObjects),
        raw_tsv_join_rows_per_s: round(tsvJoin),
        raw_csv_join_rows_per_s: round(csvJoin),
        raw_tsv_writer_rows_per_s: round(tsvWriter),
        // @clickhouse/client inserting ready bodies (its stream path is slower than the store's: not a ceiling).
        raw_tsv_preformatted_rows_per_s: round(insertOnly),
        raw_binary_preformatted_rows_per_s: round(insertRb.rate),
        // The sink's binary insert format (the bodies above marked binary).
        binary_format: "Native",
        tsv_sink_rows_per_s: round(sinkTsv.rate),
        tsv_ratio: round(sinkTsv.rate / raw, 3),
        // CPU ms per 100k rows (medians): the sink's encoding alone, inserts of ready bodies, the whole sink.
        encode_rows_per_s: { tsv: round(encodeTsv.rate), binary: round(encodeRb.rate) },
        encode_cpu_ms: { tsv: round(encodeTsv.clientMs), binary: round(encodeRb.clientMs) },
        insert_only_rows_per_s: { tsv: round(insertTsv.rate), binary: round(insertRb.rate) },
        insert_only_cpu_ms: {
          tsv: { bench: round(insertTsv.clientMs), server: round(insertTsv.serverMs) },
          binary: { bench: round(insertRb.clientMs), server: round(insertRb.serverMs) },
        },
        null_engine_cpu_ms: {
          tsv: { rows_per_s: round(nullTsv.rate), server: round(nullTsv.serverMs) },
          binary: { rows_per_s: round(nullRb.rate), server: round(nullRb.serverMs) },
        },
        no_view_cpu_ms: {
          tsv: { rows_per_s: round(plainTsv.rate), server: round(plainTsv.serverMs) },
          binary: { rows_per_s: round(plainRb.rate), server: round(plainRb.serverMs) },
        },
        sink_cpu_ms: {
          tsv: { bench: round(sinkTsv.clientMs), server: round(sinkTsv.serverMs) },
          binary: { bench: round(sinkRb.clientMs), server: round(sinkRb.serverMs) },
        },
        body_bytes_per_row: {
          tsv: round(capturedTsv.bodies.reduce((a, b) => a + b.length, 0) / n, 1),
          binary: round(capturedRb.bodies.reduce((a, b) => a + b.length, 0) / n, 1),
        },
        history_query_ms: historyMs,
        history_query_raw_ms: historyRawMs,
        history_query_all_fields_ms: historyAllFieldsMs,
        device_day_final_ms: finalMs,
        device_day_limit_by_ms: limitByMs,
        device_day_no_dedup_ms: plainMs,
        bytes_per_row: round(bpr?.b ?? 0, 1),
        bytes_per_row_with_rollup: round(bpr?.r ?? 0, 1),
        clickhouse: "18.16.1",
      }
    } finally {
      await client.close()
      await store.close()
      await ch.cleanup()
    }
  },
} satisfies Benchmark
