/**
 * The same migrations, inserts and history queries on ClickHouse 18.16 (HTTP, private server)
 * and chDB 26.x (in-process), compared result by result; plus replay idempotency and hostile input.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { loadDeviceSchema, makeDeviceSchema } from "../config/device-schema.ts"
import {
  alerts, dropExpired, FencedOut, fleetAggregate, runRollup, HistoryInputInvalid, makeChdbStore, makeClickHouseStore, makeSink, migrate, quoteString, readings,
  writeAlerts, type Store,
} from "../actors/sink/index.ts"
import { syntheticBatches } from "./support/synthetic-batches.ts"
import { compareSets, readingKey, tally } from "./support/sets.ts"
import { installWriteAudit, storedKey, storedRows, writtenTable } from "./support/stored.ts"
import type { AlertTransition } from "../runtime/alert.ts"
import { systemClock } from "../runtime/clock.ts"
import { measureBytesPerRow } from "../ops/commands/capacity.ts"
import { startClickHouse, tempDir, type ClickHouseServer } from "./harness/index.ts"

const schema = loadDeviceSchema()
const start = Date.UTC(2026, 10, 20, 10, 0, 0)
const batches = syntheticBatches(schema, { devices: 20, perDevice: 240, startMs: start, intervalMs: 500, batchSize: 100 })
const total = 20 * 240

let ch: ClickHouseServer
let stores: Array<[string, Store]>

const store = (name: string): Store => stores.find(([n]) => n === name)![1]

type Agg = { n: number; c: number; sum: number; min: number; max: number }

/** Per "device|minute": readings, readings carrying `field`, its sum, min and max, from the distinct readings sent. */
const bruteForce = (field: string): Map<string, Agg> => {
  const f = schema.fields.findIndex((x) => x.name === field)
  const out = new Map<string, Agg>()
  for (const b of batches) {
    for (let i = 0; i < b.ids.length; i++) {
      const key = `${b.ids[i]}|${Math.floor(b.ts[i]! / 60_000) * 60_000}`
      const a = out.get(key) ?? { n: 0, c: 0, sum: 0, min: Infinity, max: -Infinity }
      const v = b.values[i * b.width + f]!
      a.n++
      if (!Number.isNaN(v)) {
        a.c++
        a.sum += v
        a.min = Math.min(a.min, v)
        a.max = Math.max(a.max, v)
      }
      out.set(key, a)
    }
  }
  return out
}

const load = async (s: Store, only = batches, ingestedAt?: number) => {
  const clock = ingestedAt === undefined ? undefined : { ...systemClock, now: () => ingestedAt }
  const sink = makeSink(s, schema, { batchRows: 1000, flushMs: 50, maxInflight: 2, retryMinMs: 50, retryMaxMs: 500, fence: async () => true, clock })
  only.forEach((b, k) => {
    for (let i = 0; i < b.ids.length; i++) sink.add(b, i, k + 1)
    sink.processed(k + 1)
  })
  await sink.flush()
  await sink.close()
  return sink
}

const transitions: AlertTransition[] = [
  {
    id: "bus-0001:overheat:5:raised:critical", alertId: "bus-0001:overheat:5", device: "bus-0001", rule: "overheat", kind: "raised",
    severity: "critical", at: start + 2500, seq: 5, message: "coolant 'avg' = 112.4 > 105\n\ttab \\ backslash", values: { coolant: 112.4 },
    channels: ["email", "sms"], ruleVersion: 3, recvAt: start + 2510,
  },
  {
    id: "bus-0001:overheat:5:cleared:critical", alertId: "bus-0001:overheat:5", device: "bus-0001", rule: "overheat", kind: "cleared",
    severity: "critical", at: start + 60_000, seq: 120, message: "cleared", values: {}, channels: [], ruleVersion: 3, recvAt: start + 60_010,
  },
  {
    id: "bus-0002:idle:9:raised:info", alertId: "bus-0002:idle:9", device: "bus-0002", rule: "idle", kind: "raised", severity: "info",
    at: start + 30_000, seq: 60, message: "idle", values: { rpm: 650 }, channels: ["log"], ruleVersion: 3, recvAt: start + 30_001,
  },
]

beforeAll(async () => {
  ch = await startClickHouse()
  stores = [["ch18", makeClickHouseStore({ url: ch.url })], ["chdb", makeChdbStore(tempDir("akis-chdb-"))]]
  for (const [, s] of stores) {
    await migrate(s, schema)
    await installWriteAudit(s)
    await load(s)
    await load(s) // a full replay: must stay invisible to queries
    await writeAlerts(s, transitions, start)
    await writeAlerts(s, transitions, start)
  }
}, 60_000)

afterAll(async () => {
  for (const [, s] of stores ?? []) await s.close()
  await ch?.cleanup()
})

describe.each(["ch18", "chdb"])("store %s", (name) => {
  test("stores every row twice but queries show each reading once", async () => {
    const s = store(name)
    // As written (the audit view): every reading exactly twice, nothing else.
    const expected = batches.flatMap((b) => b.ids.map((d, i) => readingKey(d, b.seqs[i]!)))
    const perKey = async (table: string) => tally(await storedRows(s, table), storedKey)
    const written = await perKey(writtenTable)
    expect(compareSets(expected, written.keys(), (k) => k)).toMatchObject({ missing: 0, unexpected: 0 })
    expect([...written.values()].filter((n) => n !== 2)).toEqual([])
    // In the raw table every reading once or twice (background merges may have collapsed copies), nothing else.
    const raw = await perKey("telemetry")
    expect(compareSets(expected, raw.keys(), (k) => k)).toMatchObject({ missing: 0, unexpected: 0 })
    expect([...raw.values()].filter((n) => n !== 1 && n !== 2)).toEqual([])
    const r = await readings(s, schema, { device: "bus-0003", from: start, to: start + 240 * 500, fields: ["speed_kmh"], limit: 1000 })
    expect(r.t.length).toBe(240)
    expect(new Set(r.t).size).toBe(240)
    const [dedup] = await s.query<{ c: number }>("SELECT count() AS c FROM telemetry FINAL")
    expect(dedup!.c).toBe(total)
  })

  test("raw readings equal what was inserted, NaN as null", async () => {
    const r = await readings(store(name), schema, { device: "bus-0000", from: start, to: start + 9_999, fields: ["speed_kmh", "exhaust_temp_c"] })
    const sent: Array<[number, number, number]> = []
    for (const b of batches) {
      for (let i = 0; i < b.ids.length; i++) {
        if (b.ids[i] === "bus-0000" && b.ts[i]! <= start + 9_999) sent.push([b.ts[i]!, b.values[i * b.width]!, b.values[i * b.width + 11]!])
      }
    }
    expect(r.t).toEqual(sent.map((x) => x[0]))
    expect(r.values.speed_kmh).toEqual(sent.map((x) => x[1]))
    expect(r.values.exhaust_temp_c).toEqual(sent.map((x) => x[2]))
  })

  test("downsampling averages into N buckets and skips fields not sent", async () => {
    const r = await readings(store(name), schema, { device: "bus-0004", from: start, to: start + 119_999, points: 12, fields: ["accel_y_ms2"] })
    expect(r.bucketMs).toBe(10_000)
    expect(r.t.length).toBe(12)
    expect(r.n.every((n) => n === 20)).toBe(true)
    expect(r.values.accel_y_ms2!.every((v) => v !== null)).toBe(true)
  })

  test("the rollup job is exact under replays and folds late readings in on its next run", async () => {
    const s = store(name)
    const field = schema.fields[5]!.name // every 7th value not sent (NaN)
    const expected = bruteForce(field)
    // The loads were ingested at about T = now; the first run is at T + 60 s with a 30 s overlap,
    // so the second run re-reads only what is ingested after T + 30 s (the replay at T + 120 s).
    const t = Date.now()
    const rollupOpts = { graceS: 10, overlapS: 30, backfillDays: 7 }
    const first = await runRollup(s, schema, { ...rollupOpts, now: t + 60_000 })
    expect(first.rows).toBe(expected.size) // every device-minute of the two loads, once
    const fleet = async () => new Map((await fleetAggregate(s, schema, { field, from: start, to: start + 3_600_000, by: "device" })).map((r) => [r.key, r]))
    const byMinute = await fleetAggregate(s, schema, { field, from: start, to: start + 3_600_000, by: "minute" })
    expect(byMinute.map((r) => r.n)).toEqual([20 * 120, 20 * 120])
    const check = async (want: Map<string, Agg>) => {
      const got = await fleet()
      expect([...got.keys()].sort()).toEqual([...new Set([...want.keys()].map((k) => k.split("|")[0]!))].sort())
      for (const [dev, r] of got) {
        const mins = [...want.entries()].filter(([k]) => k.startsWith(`${dev}|`)).map(([, v]) => v)
        const n = mins.reduce((a, m) => a + m.n, 0)
        const c = mins.reduce((a, m) => a + m.c, 0)
        expect(r.n).toBe(n)
        expect(r.min).toBe(Math.min(...mins.map((m) => m.min)))
        expect(r.max).toBe(Math.max(...mins.map((m) => m.max)))
        expect(Math.abs(r.avg! - mins.reduce((a, m) => a + m.sum, 0) / c)).toBeLessThan(1e-9)
      }
    }
    await check(expected)
    // Readings from the rollup equal raw ones.
    const q = { device: "bus-0005", from: start, to: start + 119_999, points: 2, fields: ["engine_rpm", field] }
    const same = async () => {
      const raw = await readings(s, schema, { ...q, source: "raw" })
      const roll = await readings(s, schema, { ...q, source: "rollup" })
      expect(roll.bucketMs).toBe(60_000)
      expect(roll.t).toEqual(raw.t)
      expect(roll.n).toEqual(raw.n)
      for (const f of q.fields) roll.values[f]!.forEach((v, i) => expect(Math.abs(v! - raw.values[f]![i]!)).toBeLessThan(1e-9))
      return roll
    }
    expect((await same()).n).toEqual([120, 120])

    // A replayed block (new ingested time) and a late reading for an old, rolled-up minute.
    await load(s, batches.slice(3, 5), t + 120_000)
    await s.insert("telemetry", ["device_id", "seq", "ts", "ms", "ingested", "engine_rpm", field], "TabSeparated",
      `bus-0005\t99999\t2026-11-20 10:00:30\t250\t${new Date(t + 120_000).toISOString().slice(0, 19).replace("T", " ")}\t7777\t-12345\n`)
    const late = new Map(expected)
    const k = "bus-0005|" + start
    const m = late.get(k)!
    late.set(k, { n: m.n + 1, c: m.c + 1, sum: m.sum - 12345, min: -12345, max: m.max })
    await check(expected) // the fleet view takes the late reading in on the next run
    expect((await same()).n).toEqual([121, 120]) // readings see it at once: the touched minute is read raw
    const second = await runRollup(s, schema, { ...rollupOpts, now: t + 130_000 })
    expect(second.rows).toBe(20) // only the minutes the replay (20 devices' first minute) and the late reading touched
    await check(late)
    expect((await same()).n).toEqual([121, 120])
  }, 60_000)

  test("rejects hostile input before any SQL is sent", async () => {
    const s = store(name)
    const bad = [
      () => readings(s, schema, { device: "x' OR 1=1 --", from: start, to: start + 1 }),
      () => readings(s, schema, { device: "bus-0001", from: start, to: start + 1, fields: ["speed_kmh`, (SELECT 1) AS `x"] }),
      () => readings(s, schema, { device: "bus-0001", from: Number.NaN, to: start }),
      () => readings(s, schema, { device: "bus-0001", from: start + 10, to: start }),
      () => readings(s, schema, { device: "bus-0001", from: start, to: start + 1, points: 0 }),
      () => readings(s, schema, { device: "bus-0001", from: start, to: start + 1, points: 1e9 }),
      () => readings(s, schema, { device: "bus-0001", from: start, to: start + 1, source: "rollup" }),
      () => readings(s, schema, { device: "bus-0001", from: start, to: start + 1, points: 3, source: "x' --" as "raw" }),
      () => fleetAggregate(s, schema, { field: "1; DROP TABLE telemetry", from: start, to: start + 1, by: "device" }),
      () => fleetAggregate(s, schema, { field: "speed_kmh", from: start, to: start + 1, by: "x" as "device" }),
      () => alerts(s, { from: start, to: start + 1, rule: "a' OR '1'='1" }),
      () => alerts(s, { from: start, to: start + 1, severity: "high' --" as "info" }),
    ]
    for (const f of bad) expect(await f().then(() => "accepted", (e) => e)).toBeInstanceOf(HistoryInputInvalid)
    const [t] = await s.query<{ c: number }>("SELECT count() AS c FROM telemetry FINAL")
    expect(t!.c).toBe(total + 1) // + the rollup test's late reading
  })

  test("a deposed owner's late batch (stale fencing token) is refused, not inserted", async () => {
    const s = store(name)
    const leaseRevision = { current: 8 }
    const myToken = 7 // this node held the lease at revision 7; another node has taken it since
    const sink = makeSink(s, schema, {
      batchRows: 1000, flushMs: 50, maxInflight: 1, retryMinMs: 50, retryMaxMs: 500, fence: async () => leaseRevision.current === myToken,
    })
    const late = { ...batches[0]!, ids: batches[0]!.ids.map(() => "bus-late") }
    for (let i = 0; i < late.ids.length; i++) sink.add(late, i, 1)
    sink.processed(1)
    expect(await sink.flush().then(() => "stored", (e) => e)).toBeInstanceOf(FencedOut)
    expect(sink.metrics.rowsFenced).toBe(late.ids.length)
    expect(sink.durableSeq).toBe(0)
    await sink.close()
    const [c] = await s.query<{ c: number }>("SELECT count() AS c FROM telemetry WHERE device_id = 'bus-late'")
    expect(c!.c).toBe(0)
  })

  test("quoteString round-trips quotes, backslashes and control characters through the server", async () => {
    const hostile = "it's \\' OR 1=1 --\n\t\u0000\u0007 ünï ✓ \\\\'"
    const [row] = await store(name).query<{ s: string }>(`SELECT ${quoteString(hostile)} AS s`)
    expect(row!.s).toBe(hostile)
  })

  test("alerts are stored once, filtered by device, rule and time, message kept byte for byte", async () => {
    const s = store(name)
    const all = await alerts(s, { from: start, to: start + 3_600_000 })
    expect(all.map((a) => a.id).sort()).toEqual(transitions.map((t) => t.id).sort())
    expect(all[0]!.at).toBeGreaterThanOrEqual(all[1]!.at)
    const dev = await alerts(s, { from: start, to: start + 3_600_000, device: "bus-0001", rule: "overheat" })
    expect(dev).toEqual(transitions.slice(0, 2).reverse())
    expect(await alerts(s, { from: start, to: start + 10_000, device: "bus-0001" })).toEqual([transitions[0]!])
  })
})

describe("same SQL on ClickHouse 18.16 and chDB 26.x", () => {
  test("history queries return the same results on both", async () => {
    const [a, b] = [store("ch18"), store("chdb")]
    for (const q of [
      { device: "bus-0007", from: start, to: start + 120_000 },
      { device: "bus-0007", from: start, to: start + 120_000, points: 7 },
      { device: "bus-0019", from: start + 1000, to: start + 50_000, fields: ["fuel_level_pct", "exhaust_temp_c"], points: 100 },
      { device: "bus-0011", from: start, to: start + 3_600_000, points: 10 }, // minute buckets: the rollup
    ]) {
      const [ra, rb] = [await readings(a, schema, q), await readings(b, schema, q)]
      expect(ra.t).toEqual(rb.t)
      expect(ra.n).toEqual(rb.n)
      for (const f of ra.fields) {
        ra.values[f]!.forEach((v, i) => {
          const w = rb.values[f]![i]!
          if (v === null || w === null) expect(v).toBe(w)
          else expect(Math.abs(v - w)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(v)))
        })
      }
    }
    const fq = { field: "engine_rpm", from: start, to: start + 3_600_000 } as const
    for (const by of ["device", "minute", "total"] as const) {
      const [fa, fb] = [await fleetAggregate(a, schema, { ...fq, by }), await fleetAggregate(b, schema, { ...fq, by })]
      expect(fa.map((r) => [r.key, r.n, r.min, r.max])).toEqual(fb.map((r) => [r.key, r.n, r.min, r.max]))
      fa.forEach((r, i) => expect(Math.abs(r.avg! - fb[i]!.avg!)).toBeLessThan(1e-6))
    }
    expect(await alerts(a, { from: start, to: start + 3_600_000 })).toEqual(await alerts(b, { from: start, to: start + 3_600_000 }))
  })

  test("migrate moves the old layout (rollup view + AggregatingMergeTree) to the rollup job without losing telemetry", async () => {
    await store("ch18").exec("CREATE DATABASE IF NOT EXISTS legacy")
    // chdb holds one data directory per process: the shared session switches database for this test.
    await store("chdb").exec("CREATE DATABASE IF NOT EXISTS legacy")
    await store("chdb").exec("USE legacy")
    const legacy: Array<[string, Store]> = [["ch18", makeClickHouseStore({ url: ch.url, database: "legacy" })], ["chdb", store("chdb")]]
    const at = (sec: number) => new Date(start + sec * 1000).toISOString().slice(0, 19).replace("T", " ")
    try {
      for (const [, s] of legacy) {
        await s.exec(`CREATE TABLE telemetry (device_id String, seq UInt64, ts DateTime('UTC'), ms UInt16, ingested DateTime('UTC'), speed_kmh Float64 DEFAULT nan)
          ENGINE = ReplacingMergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (device_id, ts, seq, ms)`)
        await s.exec(`CREATE TABLE telemetry_1m (device_id String, minute DateTime('UTC'), n AggregateFunction(count), u AggregateFunction(uniqExact, UInt64),
          speed_kmh_avg AggregateFunction(avgIf, Float64, UInt8), speed_kmh_min AggregateFunction(minIf, Float64, UInt8), speed_kmh_max AggregateFunction(maxIf, Float64, UInt8))
          ENGINE = AggregatingMergeTree PARTITION BY toYYYYMMDD(minute) ORDER BY (device_id, minute)`)
        await s.exec(`CREATE MATERIALIZED VIEW telemetry_1m_mv TO telemetry_1m AS SELECT device_id, toStartOfMinute(ts) AS minute, countState() AS n,
          uniqExactState(seq) AS u, avgIfState(speed_kmh, NOT isNaN(speed_kmh)) AS speed_kmh_avg, minIfState(speed_kmh, NOT isNaN(speed_kmh)) AS speed_kmh_min,
          maxIfState(speed_kmh, NOT isNaN(speed_kmh)) AS speed_kmh_max FROM telemetry GROUP BY device_id, minute`)
        const body = [[1, 10, 40], [2, 20, 50], [3, 70, 60]].map(([seq, sec, v]) => `old-1\t${seq}\t${at(sec!)}\t0\t${at(sec!)}\t${v}\n`).join("")
        await s.insert("telemetry", ["device_id", "seq", "ts", "ms", "ingested", "speed_kmh"], "TabSeparated", body)
        await s.insert("telemetry", ["device_id", "seq", "ts", "ms", "ingested", "speed_kmh"], "TabSeparated", body) // a replay
        const rep = await migrate(s, schema)
        expect(rep.dropped).toEqual(["telemetry_1m_mv", "telemetry_1m"])
        expect(rep.created).toEqual(["telemetry_1m", "telemetry_1m_runs", "alerts", "alert_explanations"])
        expect(rep.addedColumns).toContain("telemetry.engine_rpm")
        expect((await migrate(s, schema)).dropped).toEqual([])
        const [tables] = await s.query<{ c: number }>("SELECT count() AS c FROM system.tables WHERE database = currentDatabase() AND name = 'telemetry_1m_mv'")
        expect(tables!.c).toBe(0)
        const [kept] = await s.query<{ c: number }>("SELECT count() AS c FROM telemetry FINAL")
        expect(kept!.c).toBe(3) // telemetry untouched
        // Before the first run everything is raw; after it, the same answer from the rollup.
        const q = { device: "old-1", from: start, to: start + 119_999, points: 2, fields: ["speed_kmh"], source: "rollup" } as const
        const want = { t: [start, start + 60_000], n: [2, 1], values: { speed_kmh: [45, 60] } }
        expect(await readings(s, schema, q)).toMatchObject(want)
        expect((await runRollup(s, schema, { now: start + 86_400_000, graceS: 10, overlapS: 30, backfillDays: 7 })).rows).toBe(2)
        expect(await readings(s, schema, q)).toMatchObject(want)
        const [fa] = await fleetAggregate(s, schema, { field: "speed_kmh", from: start, to: start + 120_000, by: "total" })
        expect(fa).toEqual({ key: "total", n: 3, avg: 50, min: 40, max: 60 })
      }
    } finally {
      await legacy[0]![1].close()
      await store("chdb").exec("USE default") // the later tests use the default database
    }
  }, 60_000)

  test("migrations extend the tables when the device schema grows", async () => {
    const grown = makeDeviceSchema({
      type: "bus", version: 2,
      fields: Object.fromEntries([
        ...schema.fields.map((f) => [f.name, { unit: f.unit, min: f.min, max: f.max, kind: f.kind }]),
        ["cabin_co2_ppm", { unit: "ppm", min: 0, max: 10000 }],
      ]),
    })
    for (const s of [store("ch18"), store("chdb")]) {
      const rep = await migrate(s, grown)
      expect(rep.addedColumns).toContain("telemetry.cabin_co2_ppm")
      expect((await migrate(s, grown)).addedColumns).toEqual([])
      const r = await readings(s, grown, { device: "bus-0000", from: start, to: start + 1000, fields: ["cabin_co2_ppm"] })
      expect(r.values.cabin_co2_ppm!.every((v) => v === null)).toBe(true) // old rows: not sent
    }
  })
})

test("ops capacity measures bytes per row from the live table", async () => {
  const m = await measureBytesPerRow(ch.url, "default", "", "default", 1000)
  // Rows: exactly the telemetry table's rows (both loads, less what merges collapsed).
  const [c] = await store("ch18").query<{ c: number }>("SELECT count() AS c FROM telemetry")
  expect(m!.rows).toBe(Number(c!.c))
  // Bytes: 48 Float64 fields of random two-decimal values (≈ 420 B uncompressed, compressing
  // about 2×) plus the rollup: the docs measured ≈ 200–220 B; a wrong table or divisor is far off.
  expect(m!.bpr).toBeGreaterThan(100)
  expect(m!.bpr).toBeLessThan(600)
  expect(await measureBytesPerRow("http://127.0.0.1:1")).toBeUndefined()
})

test("retention drops whole day partitions older than the limit on both stores (runs last: it empties telemetry)", async () => {
  for (const [, s] of stores) {
    expect(await dropExpired(s, 0, Date.UTC(2027, 0, 1))).toEqual([]) // 0 = keep forever
    expect(await dropExpired(s, 30, Date.UTC(2026, 11, 1))).toEqual([]) // 11 days old: kept
    const dropped = await dropExpired(s, 3, Date.UTC(2026, 10, 25))
    expect(dropped.sort()).toEqual(["telemetry:20261120", "telemetry_1m:20261120"])
    const [c] = await s.query<{ c: number }>("SELECT count() AS c FROM telemetry")
    expect(c!.c).toBe(0)
    expect(await alerts(s, { from: start, to: start + 3_600_000 })).toHaveLength(3) // month partition not yet expired
  }
})
