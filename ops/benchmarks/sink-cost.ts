/**
 * `ops bench sink-cost`: ClickHouse's CPU seconds per 100k telemetry rows at the e2e bench's
 * 100k readings/s step, inserts and the merges they cause, for variants of what surrounds the
 * inserts (the bench's write audit, the sink's insert size). Each run starts a private
 * ClickHouse 18.16 (nice 10, as the e2e bench), migrates, and has two senders (the two nodes,
 * each with half the devices) insert sink-encoded Native bodies paced to 100k rows/s in all;
 * then waits until no merge has run for a while. The server's CPU over that span (less its idle
 * rate, measured before) is divided by the rows. Variants run in turn within each repetition.
 */
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { makeClickHouseStore, makeSink, migrate, runRollup, tables, telemetryColumns, type Store } from "../../actors/sink/index.ts"
import { startClickHouse } from "../../tests/harness/index.ts"
import type { DeviceRange } from "../../tests/support/sets.ts"
import { installWriteAudit, rangeCheck } from "../../tests/support/stored.ts"
import { syntheticBatches } from "../../tests/support/synthetic-batches.ts"
import { processCpuMs } from "../lib/cpu.ts"
import type { Benchmark } from "./index.ts"

const schema = loadDeviceSchema()
const columns = telemetryColumns(schema)
const log = (s: string) => process.stderr.write(`${s}\n`)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d

/** What surrounds the inserts in one variant. */
interface Variant {
  readonly name: string
  /** The e2e bench's audit of every row written: none, the MergeTree one, or a Log-family table. */
  readonly audit: "none" | "MergeTree ORDER BY (device_id, seq)" | "Log"
  /** Rows per insert of each node (the sink's `batchRows` at 50k rows/s per node). */
  readonly insertRows: number
}

const variants: Variant[] = [
  { name: "audit MergeTree, 50k inserts", audit: "MergeTree ORDER BY (device_id, seq)", insertRows: 50_000 },
  { name: "audit Log, 50k inserts", audit: "Log", insertRows: 50_000 },
  { name: "no audit, 50k inserts", audit: "none", insertRows: 50_000 },
  { name: "no audit, 100k inserts", audit: "none", insertRows: 100_000 },
  { name: "no audit, 150k inserts", audit: "none", insertRows: 150_000 },
]

const devices = 200
const nodes = 2
/** Readings per device per second at 100k/s over 200 devices: one every 2 ms. */
const intervalMs = 2
const perNodeRowsPerS = 50_000

/** One insert body per node for chunk `j` (devices split by parity between the nodes), Native as the sink encodes it. */
const chunkBodies = async (store: Store, insertRows: number, j: number, start: number): Promise<Uint8Array[]> => {
  const perDevice = (insertRows * nodes) / devices
  const batches = syntheticBatches(schema, { devices, perDevice, startMs: start + j * perDevice * intervalMs, intervalMs, batchSize: 1000, seed: j + 1 })
  for (const b of batches) for (let i = 0; i < b.seqs.length; i++) b.seqs[i] = b.seqs[i]! + j * perDevice
  const bodies: Uint8Array[] = []
  for (let n = 0; n < nodes; n++) {
    const capture: Store = { ...store, binaryInsert: true, insert: async (_t, _c, _f, body) => void bodies.push(body as Uint8Array) }
    const sink = makeSink(capture, schema, { batchRows: insertRows, flushMs: 60_000, maxInflight: 1, retryMinMs: 100, retryMaxMs: 1000, fence: async () => true })
    batches.forEach((b, k) => {
      for (let i = 0; i < b.ids.length; i++) if (Number(b.ids[i]!.slice(4)) % nodes === n) sink.add(b, i, k + 1)
      sink.processed(k + 1)
    })
    await sink.flush()
    await sink.close()
  }
  return bodies
}

interface RunResult {
  readonly cpuSPer100k: number
  readonly rows: number
  readonly mergedRowsPerRow: number
  readonly parts: number
  readonly settleS: number
}

const oneRun = async (v: Variant, seconds: number): Promise<RunResult> => {
  const ch = await startClickHouse({ nice: 10 })
  const store = makeClickHouseStore({ url: ch.url, requestTimeoutMs: 300_000 })
  try {
    await migrate(store, schema)
    if (v.audit !== "none") await installWriteAudit(store, v.audit)
    const events = async () =>
      new Map((await store.query<{ event: string; value: number }>("SELECT event, value FROM system.events")).map((r) => [r.event, Number(r.value)]))
    // The server's idle CPU (asynchronous metrics, housekeeping) over 3 s, subtracted below.
    await Bun.sleep(1000)
    const [i0, it0] = [processCpuMs(ch.pid), performance.now()]
    await Bun.sleep(3000)
    const idlePerMs = (processCpuMs(ch.pid) - i0) / (performance.now() - it0)
    const before = await events()
    const periodMs = (v.insertRows / perNodeRowsPerS) * 1000
    const chunks = Math.round((seconds * 1000) / periodMs)
    const start = Date.UTC(2026, 10, 1)
    const [c0, t0] = [processCpuMs(ch.pid), performance.now()]
    const inflight: Array<Promise<void>> = []
    // Retried as the sink does (a keep-alive socket the server closed while idle is reset on reuse).
    const insert = (b: Uint8Array, attempt = 0): Promise<void> =>
      store.insert(tables.telemetry, columns, "Native", b).catch((e) => (attempt < 3 ? insert(b, attempt + 1) : Promise.reject(e)))
    let next = chunkBodies(store, v.insertRows, 0, start)
    for (let j = 0; j < chunks; j++) {
      const bodies = await next
      if (j + 1 < chunks) next = chunkBodies(store, v.insertRows, j + 1, start)
      const due = t0 + j * periodMs - performance.now()
      if (due > 0) await Bun.sleep(due)
      // Each node keeps at most 2 inserts in flight (sink.maxInflight); older ones are awaited first.
      while (inflight.length >= 2 * nodes) await inflight.shift()
      for (const b of bodies) inflight.push(insert(b))
    }
    await Promise.all(inflight)
    // Settled: no merge running for 3 s in a row (background merges of the last parts included).
    const t1 = performance.now()
    let quiet = 0
    while (quiet < 6 && performance.now() - t1 < 120_000) {
      await Bun.sleep(500)
      const [m] = await store.query<{ n: number }>("SELECT count() AS n FROM system.merges")
      quiet = Number(m!.n) === 0 ? quiet + 1 : 0
    }
    const elapsed = performance.now() - t0
    const cpuMs = processCpuMs(ch.pid) - c0 - idlePerMs * elapsed
    const after = await events()
    const rows = chunks * nodes * v.insertRows
    const [p] = await store.query<{ n: number }>(`SELECT count() AS n FROM system.parts WHERE active AND table = '${tables.telemetry}'`)
    const [stored] = await store.query<{ n: number }>(`SELECT count() AS n FROM ${tables.telemetry}`)
    if (Number(stored!.n) !== rows) throw new Error(`${v.name}: ${stored!.n} rows stored, ${rows} inserted`)
    const delta = (e: string) => (after.get(e) ?? 0) - (before.get(e) ?? 0)
    return {
      cpuSPer100k: round(cpuMs / 1000 / (rows / 100_000), 3), rows, mergedRowsPerRow: round(delta("MergedRows") / rows, 2),
      parts: Number(p!.n), settleS: round((performance.now() - t1) / 1000, 1),
    }
  } finally {
    await store.close()
    await ch.cleanup()
  }
}

/**
 * What the e2e bench's 100k step also runs on ClickHouse besides inserts and merges, each once on
 * a table of `rows` rows of today (inserted as fast as the server takes them): the rollup job's
 * pass (the first, a backfill of the day; the next, with every row still in the overlap, as in
 * the e2e ramp; one after a replay of a recent second with a 5 s overlap), the catch-up
 * check (`rangeCheck` over every device, polled every 500 ms after a step) and the stored/s poll
 * (`count()`, every second). Server CPU seconds of each.
 */
const queryCosts = async (rows: number): Promise<Record<string, number>> => {
  const ch = await startClickHouse({ nice: 10 })
  const store = makeClickHouseStore({ url: ch.url, requestTimeoutMs: 300_000 })
  try {
    await migrate(store, schema)
    const insertRows = 50_000
    const chunks = Math.round(rows / (insertRows * nodes))
    const perDevice = (insertRows * nodes) / devices
    // Readings of the last minutes, ending 20 s ago, so every minute but the last is closed.
    const start = Date.now() - chunks * perDevice * intervalMs - 20_000
    for (let j = 0; j < chunks; j++) {
      await Promise.all((await chunkBodies(store, insertRows, j, start)).map((b) => store.insert(tables.telemetry, columns, "Native", b)))
    }
    const cpu = async (f: () => Promise<unknown>) => {
      const c0 = processCpuMs(ch.pid)
      await f()
      return round((processCpuMs(ch.pid) - c0) / 1000, 2)
    }
    const seqs = chunks * perDevice
    const ranges: DeviceRange[] = Array.from({ length: devices }, (_, d) => ({
      device: `bus-${String(d).padStart(4, "0")}`, first: 1, sent_to: seqs, acked_to: seqs, rejected: [],
    }))
    const rollup = { graceS: 10, overlapS: 300, backfillDays: 1 }
    return {
      rows: chunks * nodes * insertRows,
      rollup_first_pass_s: await cpu(() => runRollup(store, schema, { ...rollup, now: Date.now() })),
      rollup_next_pass_s: await cpu(() => runRollup(store, schema, { ...rollup, now: Date.now() })),
      // A pass after one second of rows half a minute old was replayed, 5 s overlap: the
      // touched minutes are the last ones of the day, not every minute as above.
      rollup_recent_pass_s: await (async () => {
        await Bun.sleep(6000)
        await Promise.all((await chunkBodies(store, insertRows, chunks - 30, start)).map((b) => store.insert(tables.telemetry, columns, "Native", b)))
        return cpu(() => runRollup(store, schema, { ...rollup, overlapS: 5, now: Date.now() }))
      })(),
      catch_up_check_s: await cpu(async () => {
        const r = await rangeCheck(store, tables.telemetry, ranges)
        if (r.lost !== 0) throw new Error(`queryCosts: ${r.lost} rows lost`)
      }),
      count_poll_s: await cpu(() => store.query(`SELECT count() AS n FROM ${tables.telemetry}`)),
    }
  } finally {
    await store.close()
    await ch.cleanup()
  }
}

export default {
  description: "ClickHouse CPU s per 100k telemetry rows at 100k rows/s from 2 paced senders (inserts + merges), per variant",
  async run({ runs, seconds }) {
    const reps = runs ?? 3
    const secs = seconds ?? 30
    const results = new Map<string, RunResult[]>(variants.map((v) => [v.name, []]))
    for (let r = 0; r < reps; r++) {
      // Rotated order, so no variant always runs first (or last) on a shared machine.
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(k + r) % variants.length]!
        const res = await oneRun(v, secs)
        results.get(v.name)!.push(res)
        log(`run ${r + 1}/${reps} ${v.name.padEnd(32)} ${res.cpuSPer100k} CPU s/100k rows, merged rows per row ${res.mergedRowsPerRow}, ${res.parts} parts, settled in ${res.settleS} s`)
      }
    }
    // `--runs 0`: the query costs only.
    const summary = Object.fromEntries([...results].filter(([, rs]) => rs.length > 0).map(([name, rs]) => {
      const cpu = rs.map((x) => x.cpuSPer100k)
      return [name, {
        cpu_s_per_100k: median(cpu), spread: [Math.min(...cpu), Math.max(...cpu)], merged_rows_per_row: median(rs.map((x) => x.mergedRowsPerRow)),
        parts: median(rs.map((x) => x.parts)), rows: rs[0]!.rows,
      }]
    }))
    for (const [name, s] of Object.entries(summary)) log(`${name.padEnd(32)} median ${s.cpu_s_per_100k} (${s.spread.join("–")}) CPU s/100k rows`)
    // About the table the e2e bench's 100k step starts on: the steps before it (20k–80k/s, 60 s each).
    const queries = await queryCosts(12_000_000)
    log(`queries on ${queries.rows} rows, server CPU s: ${JSON.stringify(queries)}`)
    return { seconds: secs, runs: reps, rows_per_s: nodes * perNodeRowsPerS, variants: summary, query_cpu_s: queries, clickhouse: "18.16.1" }
  },
} satisfies Benchmark
