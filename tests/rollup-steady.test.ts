/**
 * The rollup job in steady state, on chDB: a fleet streams, inserts land a few seconds after each
 * reading, and a run starts every minute. With the node's grace (`rollupGraceS`), every run
 * recomputes only the minute that closed since the previous one, and the rollup equals the
 * readings sent.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { fleetAggregate, makeChdbStore, migrate, rollupGraceS, runRollup, type Store } from "../actors/sink/index.ts"
import { tempDir } from "./harness/index.ts"

const schema = loadDeviceSchema()
const t0 = Date.UTC(2026, 10, 21, 8, 0, 0)
const devices = ["bus-0001", "bus-0002", "bus-0003"]
const minutes = 8
const overlapS = 60
/** A reading per device per second; its insert attempt starts 3 s later (the `ingested` stamp). */
const readings = Array.from({ length: minutes * 60 }, (_, s) => devices.map((d, i) => ({ d, seq: s + 1, ts: t0 + s * 1000, ingested: t0 + s * 1000 + 3000, v: (s % 37) + i })))
  .flat()

const dt = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace("T", " ")

let store: Store

beforeAll(async () => {
  store = makeChdbStore(tempDir("akis-chdb-rollup-"))
  await migrate(store, schema)
})
afterAll(() => store.close())

describe("rollup job, steady state", () => {
  test("each run recomputes only the newly closed minute, and the rollup is exact", async () => {
    const graceS = rollupGraceS(overlapS)
    let landed = 0
    /** Inserts every reading whose attempt started by `ms` (what has landed when a run starts then). */
    const landUntil = async (ms: number) => {
      const rows = readings.filter((r) => r.ingested <= ms).slice(landed)
      if (rows.length === 0) return
      await store.insert("telemetry", ["device_id", "seq", "ts", "ms", "ingested", "engine_rpm"], "TabSeparated",
        rows.map((r) => `${r.d}\t${r.seq}\t${dt(r.ts)}\t0\t${dt(r.ingested)}\t${r.v}\n`).join(""))
      landed += rows.length
    }
    // Runs every minute, 10 s into it, until every minute has closed.
    const recomputed: number[] = []
    for (let run = 1; t0 + run * 60_000 + 10_000 - graceS * 1000 < t0 + (minutes + 1) * 60_000; run++) {
      const now = t0 + run * 60_000 + 10_000
      await landUntil(now)
      const r = await runRollup(store, schema, { now, graceS, overlapS, backfillDays: 7 })
      recomputed.push(r.rows)
    }
    // The first run that finds a closed minute computes it; every later one, one new minute per device.
    const firstWithRows = recomputed.findIndex((n) => n > 0)
    expect(firstWithRows).toBeGreaterThanOrEqual(0)
    expect(recomputed.slice(firstWithRows)).toEqual(recomputed.slice(firstWithRows).map(() => devices.length))
    expect(recomputed.reduce((a, b) => a + b, 0)).toBe(devices.length * minutes) // each device-minute once

    const [total] = await fleetAggregate(store, schema, { field: "engine_rpm", from: t0, to: t0 + minutes * 60_000 - 1, by: "total" })
    const vs = readings.map((r) => r.v)
    expect(total).toEqual({ key: "total", n: readings.length, avg: vs.reduce((a, b) => a + b, 0) / vs.length, min: Math.min(...vs), max: Math.max(...vs) })
  }, 60_000)
})
