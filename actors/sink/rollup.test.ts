import { describe, expect, test } from "bun:test"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { TestClock } from "../../runtime/clock.ts"
import { makeRollupJob, runRollup } from "./rollup.ts"
import type { Store } from "./store.ts"

const schema = loadDeviceSchema()

/** A store that logs which node ran which statement; the runs table answers what was last inserted. */
const sharedStore = () => {
  const log: Array<{ node: string; sql: string }> = []
  let last: Record<string, number> | undefined
  const forNode = (node: string): Store => ({
    kind: "chdb",
    binaryInsert: false,
    async exec(sql) {
      log.push({ node, sql })
      const m = /INSERT INTO telemetry_1m_runs .* VALUES \((\d+), (\d+), (\d+), (\d+)/.exec(sql)
      if (m) last = { d: Number(m[1]), c: Number(m[2]), f: Number(m[3]), o: Number(m[4]) }
    },
    async query<T>(sql: string) {
      log.push({ node, sql })
      if (sql.includes("FROM telemetry_1m_runs")) return (last ? [last] : []) as T[]
      if (sql.includes("system.parts")) return [{ partition: "20261120" }] as T[]
      // Earliest touched row: 17 s into the day's second hour; nothing touched on Nov 22.
      const touched = /min\(ts\).* WHERE ts >= toDateTime\((\d+)\)/.exec(sql)
      if (touched) {
        const from = Number(touched[1])
        return [from === Date.UTC(2026, 10, 22) / 1000 ? { lo: 0, n: 0 } : { lo: from + 3617, n: 5 }] as T[]
      }
      return [{ c: 3 }] as T[]
    },
    async insert() {},
    close: async () => {},
  })
  return { log, forNode, runs: (node: string) => log.filter((l) => l.node === node && l.sql.startsWith("INSERT INTO telemetry_1m_runs")).length }
}

describe("rollup job", () => {
  test("runs only on the node holding the lease, and stops when the lease moves", async () => {
    const clock = new TestClock()
    const advance = (ms: number) => clock.advance(ms)
    const s = sharedStore()
    const opts = { everyMs: 60_000, graceS: 10, overlapS: 300, backfillDays: 7, clock }
    const a = makeRollupJob(s.forNode("a"), schema, opts)
    const b = makeRollupJob(s.forNode("b"), schema, opts)
    let owner = "a"
    a.hold(async () => owner === "a")
    await advance(0)
    for (let i = 0; i < 5; i++) await advance(60_000)
    expect(s.runs("a")).toBe(6)
    expect(s.runs("b")).toBe(0)
    expect(a.metrics).toMatchObject({ runs: 6, errors: 0, notOwner: 0, rows: 18 })

    // The lease moves to b: a notices on its next run and goes quiet; b takes over.
    owner = "b"
    b.hold(async () => owner === "b")
    for (let i = 0; i < 5; i++) await advance(60_000)
    expect(s.runs("a")).toBe(6)
    expect(a.metrics.notOwner).toBe(1)
    // b ran at once on taking the lease and at each of the five minutes since.
    expect(s.runs("b")).toBe(6)
    a.stop()
    b.stop()
    await advance(600_000)
    expect(s.runs("b")).toBe(6)
  })

  test("the first run backfills whole days; later runs re-read only rows ingested since the last watermark minus the overlap", async () => {
    const s = sharedStore()
    const now = Date.UTC(2026, 10, 25, 12, 0, 35)
    const first = await runRollup(s.forNode("a"), schema, { now, graceS: 10, overlapS: 300, backfillDays: 7 })
    expect(first.state).toEqual({ done: now / 1000, closed: Date.UTC(2026, 10, 25, 12, 0) / 1000, coveredFrom: Date.UTC(2026, 10, 18) / 1000, overlapS: 300 })
    // One statement per UTC day, from the first covered day to the last closed minute.
    const ins1 = s.log.filter((l) => l.sql.startsWith("INSERT INTO telemetry_1m (")).map((l) => l.sql)
    expect(ins1).toHaveLength(8)
    ins1.forEach((q, i) => {
      const from = Date.UTC(2026, 10, 18 + i) / 1000
      const to = i === 7 ? first.state.closed : from + 86_400
      expect(q).toContain(`FROM telemetry FINAL WHERE ts >= toDateTime(${from}) AND ts < toDateTime(${to})`)
      expect(q).not.toContain("ingested")
    })
    s.log.length = 0
    const second = await runRollup(s.forNode("a"), schema, { now: now + 60_000, graceS: 10, overlapS: 300, backfillDays: 7 })
    const ins2s = s.log.filter((l) => l.sql.startsWith("INSERT INTO telemetry_1m (")).map((l) => l.sql)
    // Partition 20261120 gained parts: the look-back starts there (6 days to today), skips the day
    // nothing touched (Nov 22) and reads each other day from its earliest touched minute; touched pairs only.
    expect(ins2s).toHaveLength(5)
    expect(ins2s.some((q) => q.includes(`toDateTime(${Date.UTC(2026, 10, 22) / 1000 + 3600})`))).toBe(false)
    const ins2 = ins2s[0]!
    expect(ins2).toContain(`FINAL WHERE ts >= toDateTime(${Date.UTC(2026, 10, 20) / 1000 + 3600}) AND ts < toDateTime(${Date.UTC(2026, 10, 21) / 1000})`)
    expect(ins2).toContain(`(device_id, toStartOfMinute(ts)) IN (SELECT device_id, toStartOfMinute(ts) FROM telemetry WHERE`)
    expect(ins2).toContain(`ingested > toDateTime(${first.state.done - 300}) OR ts >= toDateTime(${first.state.closed})`)
    expect(second.state.closed).toBe(first.state.closed + 60)
    expect(second.state.coveredFrom).toBe(first.state.coveredFrom)
  })
})
