/**
 * RowBinary inserts (HTTP store) against TabSeparated ones (the same store told it has no
 * binaryInsert, and chDB) on a private ClickHouse 18.16: the rows read back, the edge values of
 * every column, and the rollup computed from them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { makeChdbStore, makeClickHouseStore, makeSink, migrate, runRollup, type InsertFormat, type Store } from "../actors/sink/index.ts"
import type { ReadingBatch } from "../runtime/batch.ts"
import { systemClock } from "../runtime/clock.ts"
import { syntheticBatches } from "./support/synthetic-batches.ts"
import { readRowBinary, type TelemetryRow } from "./support/telemetry-bodies.ts"
import { startClickHouse, tempDir, type ClickHouseServer } from "./harness/index.ts"

const schema = loadDeviceSchema()
const width = schema.fields.length
const ingestedAt = Date.UTC(2026, 10, 20, 12)
// The first and last event times the sink stores (DateTime seconds 1,000,000,000 … 2^32-1).
const minTs = 1_000_000_000_000
const maxTs = 4_294_967_296_000

// 18.16 reads these as text 1 ulp off or flushes them to 0 (its float parser is not exact);
// RowBinary stores them bit for bit, chDB 26 reads the text exactly.
const lossyAsText18 = [5e-324, -5e-324, 9.87654321e-200, 308.8818132214532]
const special = [
  NaN, Infinity, -Infinity, -0, 0, 1.5e-310, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1 + 0.2, 87.35, -1e-7, Math.PI,
  ...lossyAsText18,
]
const edgeIds = ["edge-a", "edge-ünïcødé-✓-🚌", `edge-${"x".repeat(200)}`, `edge-${"é".repeat(70)}`, "edge-tab\there\\back\nline"]
const edgeSeqs = [0, 1, 2 ** 32, 2 ** 53 - 1]
const edgeTs = [minTs, maxTs - 1, 1_795_000_000_999, 1_795_000_000_000]

const edgeBatch = (): ReadingBatch => {
  const n = edgeIds.length * edgeSeqs.length
  const values = new Float64Array(n * width)
  for (let r = 0; r < n; r++) for (let f = 0; f < width; f++) values[r * width + f] = special[(r * 7 + f) % special.length]!
  return {
    ids: Array.from({ length: n }, (_, r) => edgeIds[Math.floor(r / edgeSeqs.length)]!),
    seqs: Float64Array.from({ length: n }, (_, r) => edgeSeqs[r % edgeSeqs.length]!),
    ts: Float64Array.from({ length: n }, (_, r) => edgeTs[r % edgeTs.length]!),
    width, values, schema: 1, recvAt: 0,
  }
}

const sent = (b: ReadingBatch): Map<string, TelemetryRow> => {
  const m = new Map<string, TelemetryRow>()
  for (let i = 0; i < b.ids.length; i++) {
    const t = b.ts[i]!
    m.set(`${b.ids[i]}|${b.seqs[i]}`, [b.ids[i]!, b.seqs[i]!, Math.floor(t / 1000), t % 1000, ingestedAt / 1000, ...b.values.subarray(i * width, (i + 1) * width)])
  }
  return m
}

/**
 * Every row of `got` equals the one sent, floats bit for bit (`skip`: values not compared); with
 * `ulps`, a float may be that many units in the last place off. Returns the floats compared and missed.
 */
const expectSame = (got: TelemetryRow[], want: Map<string, TelemetryRow>, skip: number[] = [], ulps = 0) => {
  expect(got.length).toBe(want.size)
  let compared = 0
  let missed = 0
  for (const row of got) {
    const w = want.get(`${row[0]}|${row[1]}`)
    expect(w).toBeDefined()
    expect(row.slice(0, 5)).toEqual(w!.slice(0, 5))
    for (let f = 5; f < row.length; f++) {
      if (skip.some((x) => Object.is(x, w![f]))) continue
      compared++
      if (Object.is(row[f], w![f])) continue
      missed++
      const x = w![f] as number
      if (Math.abs((row[f] as number) - x) > ulps * Number.EPSILON * Math.abs(x)) throw new Error(`${row[0]} seq ${row[1]} field ${f - 5}: stored ${row[f]}, sent ${x}`)
    }
  }
  return { compared, missed }
}

const fieldList = schema.fields.map((f) => f.name).join(", ")

let ch: ClickHouseServer
const formats: Record<string, InsertFormat[]> = {}
let stores: Record<"rb" | "tsv" | "chdb", Store>

/** Records the formats each store was sent. */
const recording = (name: string, s: Store): Store => ({
  ...s,
  insert(t, c, format, body) {
    ;(formats[name] ??= []).push(format)
    return s.insert(t, c, format, body)
  },
})

const load = async (s: Store, batches: ReadingBatch[]) => {
  const sink = makeSink(s, schema, {
    batchRows: 1000, flushMs: 50, maxInflight: 2, retryMinMs: 50, retryMaxMs: 500, fence: async () => true,
    clock: { ...systemClock, now: () => ingestedAt },
  })
  batches.forEach((b, k) => {
    for (let i = 0; i < b.ids.length; i++) sink.add(b, i, k + 1)
    sink.processed(k + 1)
  })
  await sink.flush()
  expect(sink.metrics.rowsBadTime).toBe(0)
  await sink.close()
}

/** The rows of database `db` on the 18.16 server, read back as RowBinary (no float printing involved). */
const readBack18 = async (db: string, where: string): Promise<TelemetryRow[]> => {
  const sql = `SELECT device_id, seq, ts, ms, ingested, ${fieldList} FROM telemetry WHERE ${where} FORMAT RowBinary`
  const res = await fetch(`${ch.url}/?database=${db}`, { method: "POST", body: sql })
  expect(res.status).toBe(200)
  return readRowBinary(new Uint8Array(await res.arrayBuffer()), width)
}

const synthetic = syntheticBatches(schema, { devices: 20, perDevice: 240, startMs: Date.UTC(2026, 10, 20, 10), intervalMs: 500, batchSize: 100 })

beforeAll(async () => {
  ch = await startClickHouse()
  for (const db of ["rb", "tsv"]) await fetch(`${ch.url}/`, { method: "POST", body: `CREATE DATABASE ${db}` })
  const tsv18 = makeClickHouseStore({ url: ch.url, database: "tsv" })
  stores = {
    rb: recording("rb", makeClickHouseStore({ url: ch.url, database: "rb" })),
    tsv: recording("tsv", { ...tsv18, binaryInsert: false }),
    chdb: recording("chdb", makeChdbStore(tempDir("akis-chdb-"))),
  }
  for (const s of Object.values(stores)) {
    await migrate(s, schema)
    await load(s, [edgeBatch(), ...synthetic])
  }
}, 60_000)

afterAll(async () => {
  for (const s of Object.values(stores ?? {})) await s.close()
  await ch?.cleanup()
})

describe("Native inserts (binary)", () => {
  test("the HTTP store is sent Native; a store without binaryInsert and chDB get TabSeparated", () => {
    expect(new Set(formats.rb)).toEqual(new Set(["Native"]))
    expect(new Set(formats.tsv)).toEqual(new Set(["TabSeparated"]))
    expect(new Set(formats.chdb)).toEqual(new Set(["TabSeparated"]))
  })

  test("store every edge value bit for bit: NaN, ±inf, -0, denormals, unicode and 200-byte ids, seq 2^53-1, DateTime bounds", async () => {
    const want = sent(edgeBatch())
    const rb = await readBack18("rb", "device_id LIKE 'edge-%'")
    expect(expectSame(rb, want)).toEqual({ compared: want.size * width, missed: 0 })
    expect(rb.filter((r) => r[1] === 2 ** 53 - 1).length).toBe(edgeIds.length)
    expect(rb.filter((r) => r[2] === 4_294_967_295 && r[3] === 999).length).toBe(edgeIds.length)
    expect(rb.filter((r) => r[2] === minTs / 1000 && r[3] === 0).length).toBe(edgeIds.length)
  })

  test("give the same rows as TabSeparated on 18.16, except the values 18.16 misreads as text", async () => {
    const want = sent(edgeBatch())
    const tsv = await readBack18("tsv", "device_id LIKE 'edge-%'")
    expect(expectSame(tsv, want, lossyAsText18).compared).toBeGreaterThan(want.size * (width - 20))
    // The misreads themselves (why RowBinary is also the exact path on 18.16):
    const denormal = tsv.flatMap((r, i) => r.slice(5).filter((_, f) => Object.is(want.get(`${r[0]}|${r[1]}`)![5 + f], 5e-324)).map(() => i))
    expect(denormal.length).toBeGreaterThan(0)
  })

  test("give the same rows as chDB's TabSeparated (exact there)", async () => {
    const want = sent(edgeBatch())
    const rows = await stores.chdb.query<Record<string, string | number>>(
      `SELECT device_id, seq, toUInt32(ts) AS ts, ms, toUInt32(ingested) AS ingested, ${
        schema.fields.map((f) => `toString(${f.name}) AS ${f.name}`).join(", ")
      } FROM telemetry WHERE device_id LIKE 'edge-%'`,
    )
    const num = (s: string) => (s === "nan" ? NaN : s === "inf" ? Infinity : s === "-inf" ? -Infinity : Number(s))
    const got = rows.map((r) => [r.device_id, r.seq, r.ts, r.ms, r.ingested, ...schema.fields.map((f) => num(String(r[f.name])))] as TelemetryRow)
    expect(expectSame(got, want)).toEqual({ compared: want.size * width, missed: 0 })
  })

  test("synthetic readings are exact through Native; TabSeparated on 18.16 is at most 1 ulp off", async () => {
    const [rb, tsv] = [await readBack18("rb", "device_id LIKE 'bus-%'"), await readBack18("tsv", "device_id LIKE 'bus-%'")]
    const want = new Map<string, TelemetryRow>()
    for (const b of synthetic) for (const [k, v] of sent(b)) want.set(k, v)
    expect(expectSame(rb, want).missed).toBe(0)
    // 18.16 reads some two-decimal text 1 ulp off (e.g. "1.64" as 1.6400000000000001); chDB does not.
    expect(expectSame(tsv, want, [], 1).missed).toBeLessThan(want.size * width * 0.01)
  })

  test("the rollup job computes the same minutes from Native inserts as from TabSeparated", async () => {
    const fields = ["speed_kmh", schema.fields[5]!.name, "engine_rpm"]
    for (const s of [stores.rb, stores.tsv]) {
      await runRollup(s, schema, { now: ingestedAt + 3_600_000, graceS: 10, overlapS: 300, backfillDays: 1 })
    }
    const sql = `SELECT device_id, toUInt32(minute) AS m, n, ${
      fields.map((f) => `${f}_n, ${f}_sum, ${f}_min, ${f}_max`).join(", ")
    } FROM telemetry_1m FINAL WHERE device_id LIKE 'bus-%' ORDER BY device_id, m`
    type Minute = { device_id: string; m: number; n: number; [col: string]: string | number }
    const [rb, tsv] = [await stores.rb.query<Minute>(sql), await stores.tsv.query<Minute>(sql)]
    expect(rb.length).toBe(20 * 2)
    expect(rb.every((r) => r.n === 120)).toBe(true)
    expect(rb.map((r) => [r.device_id, r.m, r.n])).toEqual(tsv.map((r) => [r.device_id, r.m, r.n]))
    rb.forEach((r, i) => {
      for (const f of fields) {
        for (const k of [`${f}_n`, `${f}_sum`, `${f}_min`, `${f}_max`]) {
          const [a, b] = [Number(r[k]), Number(tsv[i]![k])]
          expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(a)))
        }
      }
    })
    // ...and equals the minute computed from the raw rows.
    const [raw] = await stores.rb.query<{ n: number; a: number }>(
      "SELECT count() AS n, avg(speed_kmh) AS a FROM telemetry FINAL WHERE device_id = 'bus-0003' AND toStartOfMinute(ts) = toDateTime(" +
        `${Date.UTC(2026, 10, 20, 10) / 1000})`,
    )
    const roll = rb.find((r) => r.device_id === "bus-0003" && r.m === Date.UTC(2026, 10, 20, 10) / 1000)!
    expect(roll.n).toBe(raw!.n)
    expect(Math.abs(Number(roll.speed_kmh_sum) / Number(roll.speed_kmh_n) - raw!.a)).toBeLessThan(1e-9)
  })
})
