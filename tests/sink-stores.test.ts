/**
 * The same migrations, inserts and history queries on ClickHouse 18.16 (HTTP, private server)
 * and chDB 26.x (in-process), compared result by result; plus replay idempotency and hostile input.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { loadDeviceSchema, makeDeviceSchema } from "../config/device-schema.ts"
import {
  alerts, dropExpired, FencedOut, fleetAggregate, rebuildRollupDay, HistoryInputInvalid, makeChdbStore, makeClickHouseStore, makeSink, migrate, quoteString, readings,
  writeAlerts, type Store,
} from "../actors/sink/index.ts"
import { syntheticBatches } from "./support/synthetic-batches.ts"
import { compareSets, readingKey, tally } from "./support/sets.ts"
import { installWriteAudit, storedKey, storedRows, writtenTable } from "./support/stored.ts"
import type { AlertTransition } from "../runtime/alert.ts"
import { measureBytesPerRow } from "../ops/commands/capacity.ts"
import { startClickHouse, tempDir, type ClickHouseServer } from "./harness/index.ts"

const schema = loadDeviceSchema()
const start = Date.UTC(2026, 10, 20, 10, 0, 0)
const batches = syntheticBatches(schema, { devices: 20, perDevice: 240, startMs: start, intervalMs: 500, batchSize: 100 })
const total = 20 * 240

let ch: ClickHouseServer
let stores: Array<[string, Store]>

const store = (name: string): Store => stores.find(([n]) => n === name)![1]

const load = async (s: Store) => {
  const sink = makeSink(s, schema, { batchRows: 1000, flushMs: 50, maxInflight: 2, retryMinMs: 50, retryMaxMs: 500, fence: async () => true })
  batches.forEach((b, k) => {
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

  test("rollup-sourced readings equal raw ones, even where a replay counted minutes twice", async () => {
    const s = store(name)
    const q = { device: "bus-0005", from: start, to: start + 119_999, points: 2, fields: ["engine_rpm"] }
    const raw = await readings(s, schema, { ...q, source: "raw" })
    const check = async () => {
      const roll = await readings(s, schema, { ...q, source: "rollup" })
      expect(roll.bucketMs).toBe(60_000)
      expect(roll.t).toEqual(raw.t)
      expect(roll.n).toEqual(raw.n)
      roll.values.engine_rpm!.forEach((v, i) => expect(Math.abs(v! - raw.values.engine_rpm![i]!)).toBeLessThan(1e-9))
    }
    const [dup] = await s.query<{ c: number; u: number }>(
      "SELECT countMerge(n) AS c, uniqExactMerge(u) AS u FROM telemetry_1m WHERE device_id = 'bus-0005'",
    )
    expect(dup!.c).toBe(2 * dup!.u) // loaded twice: the view counted both copies
    await check() // answered from raw telemetry
    await rebuildRollupDay(s, schema, 20261120)
    await check() // answered from the rebuilt rollup
  })

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
    expect(t!.c).toBe(total)
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
