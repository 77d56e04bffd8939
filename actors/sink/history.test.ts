import { describe, expect, test } from "bun:test"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { HistoryInputInvalid } from "./errors.ts"
import { alerts, readings } from "./history.ts"
import type { Store } from "./store.ts"

const schema = loadDeviceSchema()
const t0 = Date.UTC(2026, 10, 20)

/** A store that answers each query with the next canned result and records the SQL. */
const scripted = (...answers: Array<Array<Record<string, unknown>>>) => {
  const sql: string[] = []
  const store: Store = {
    kind: "chdb",
    binaryInsert: false,
    exec: async () => {},
    query: async <T>(q: string) => {
      sql.push(q)
      return (answers.shift() ?? []) as T[]
    },
    insert: async () => {},
    close: async () => {},
  }
  return { store, sql }
}

describe("readings", () => {
  test("downsampled buckets without copies are answered by one query, without FINAL", async () => {
    const { store, sql } = scripted([{ t: t0, n: 3, u: 3, v_speed_kmh: 10 }])
    const r = await readings(store, schema, { device: "bus-1", from: t0, to: t0 + 59_999, points: 6, fields: ["speed_kmh"] })
    expect(r).toMatchObject({ bucketMs: 10_000, t: [t0], n: [3], values: { speed_kmh: [10] } })
    expect(sql).toHaveLength(1)
    expect(sql[0]).not.toContain("FINAL")
  })

  test("a bucket holding copies of a reading makes the query repeat with FINAL", async () => {
    const { store, sql } = scripted([{ t: t0, n: 4, u: 3, v_speed_kmh: 11 }], [{ t: t0, n: 3, u: 3, v_speed_kmh: 10 }])
    const r = await readings(store, schema, { device: "bus-1", from: t0, to: t0 + 59_999, points: 6, fields: ["speed_kmh"] })
    expect(r.n).toEqual([3])
    expect(r.values.speed_kmh).toEqual([10])
    expect(sql[1]).toContain("FINAL")
  })

  test("minute-or-wider buckets: minutes the rollup covers from it, the others raw, summed per bucket", async () => {
    const q = { device: "bus-1", from: t0, to: t0 + 3_599_999, points: 30, fields: ["speed_kmh"] }
    const state = { d: t0 / 1000 + 3600, c: t0 / 1000 + 1800, f: t0 / 1000 - 86_400, o: 300 }
    const one = scripted([state], [{ t: t0, cnt: 120, c_speed_kmh: 120, s_speed_kmh: 1200 }], [{ t: t0, cnt: 120, u: 120, c_speed_kmh: 60, s_speed_kmh: 1800 }])
    const r = await readings(one.store, schema, q)
    expect(r).toMatchObject({ bucketMs: 120_000, t: [t0], n: [240], values: { speed_kmh: [3000 / 180] } })
    expect(one.sql[1]).toContain("FROM telemetry_1m FINAL")
    expect(one.sql[1]).toContain(`minute < toDateTime(${state.c})`)
    expect(one.sql[1]).toContain(`NOT IN (SELECT toStartOfMinute(ts) FROM telemetry WHERE device_id = 'bus-1'`)
    expect(one.sql[1]).toContain(`ingested > toDateTime(${state.d - state.o})`)
    expect(one.sql[2]).toContain("FROM telemetry WHERE")
    expect(one.sql[2]).toContain(`ts >= toDateTime(${state.c})`)
    // Raw minutes holding copies: the raw part is repeated with FINAL.
    const two = scripted([state], [], [{ t: t0, cnt: 240, u: 120, c_speed_kmh: 1, s_speed_kmh: 1 }], [{ t: t0, cnt: 120, u: 120, c_speed_kmh: 120, s_speed_kmh: 1200 }])
    expect((await readings(two.store, schema, q)).n).toEqual([120])
    expect(two.sql[3]).toContain("FROM telemetry FINAL WHERE")
    // The job never ran: raw telemetry only.
    const none = scripted([], [{ t: t0, cnt: 5, u: 5, c_speed_kmh: 5, s_speed_kmh: 50 }])
    expect((await readings(none.store, schema, q)).values.speed_kmh).toEqual([10])
    expect(none.sql).toHaveLength(2)
    expect(none.sql[1]).not.toContain("telemetry_1m")
    const raw = scripted([])
    await readings(raw.store, schema, { ...q, source: "raw" })
    expect(raw.sql[0]).toContain("FROM telemetry WHERE")
  })

  test("raw rows drop adjacent copies; NaN and missing values become null", async () => {
    const { store, sql } = scripted([
      { t: t0, seq: 1, n: 1, v_speed_kmh: 5 }, { t: t0, seq: 1, n: 1, v_speed_kmh: 5 }, { t: t0 + 500, seq: 2, n: 1, v_speed_kmh: null },
    ])
    const r = await readings(store, schema, { device: "bus-1", from: t0, to: t0 + 1000, fields: ["speed_kmh"] })
    expect(r.t).toEqual([t0, t0 + 500])
    expect(r.values.speed_kmh).toEqual([5, null])
    expect(sql).toHaveLength(1)
  })

  test("values reach SQL only as checked literals", async () => {
    const { store, sql } = scripted([])
    await readings(store, schema, { device: "bus_01-A", from: t0, to: t0 + 1000 })
    expect(sql[0]).toContain("device_id = 'bus_01-A'")
    expect(sql[0]).toContain(`BETWEEN ${t0} AND ${t0 + 1000}`)
    for (const device of ["bus'1", "bus 1", "", "x".repeat(129), "bus\\1", "bus\n1"]) {
      const e = await readings(store, schema, { device, from: t0, to: t0 + 1 }).catch((x) => x)
      expect(e).toBeInstanceOf(HistoryInputInvalid)
      expect((e as HistoryInputInvalid).field).toBe("device")
    }
    expect(sql).toHaveLength(1)
  })

  test.each([
    [{ from: -1, to: 5 }, "from"], [{ from: 1.5, to: 5 }, "from"], [{ from: t0, to: t0 + 401 * 86_400_000 }, "to"],
    [{ from: t0, to: t0 + 1, points: 10_001 }, "points"], [{ from: t0, to: t0 + 1, limit: 0 }, "limit"],
    [{ from: t0, to: t0 + 1, fields: [] }, "fields"], [{ from: t0, to: t0 + 1, fields: ["nope"] }, "fields"],
  ])("rejects %j (field %s)", async (q, field) => {
    const { store } = scripted()
    const e = await readings(store, schema, { device: "bus-1", ...q } as never).catch((x) => x)
    expect(e).toBeInstanceOf(HistoryInputInvalid)
    expect((e as HistoryInputInvalid).field).toBe(field)
  })
})

describe("alerts", () => {
  test("filters are quoted literals and bad ones are refused", async () => {
    const { store, sql } = scripted([])
    await alerts(store, { from: t0, to: t0 + 1, device: "bus-1", rule: "engine.overheat", severity: "critical" })
    expect(sql[0]).toContain("device_id = 'bus-1' AND rule = 'engine.overheat' AND severity = 'critical'")
    const e = await alerts(store, { from: t0, to: t0 + 1, rule: "x' OR '1'='1" }).catch((x) => x)
    expect(e).toBeInstanceOf(HistoryInputInvalid)
  })
})
