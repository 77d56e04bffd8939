import { describe, expect, test } from "bun:test"
import { TestClock } from "../../runtime/clock.ts"
import { StoreUnavailable } from "./errors.ts"
import { makeRetentionJob } from "./retention.ts"
import type { Store } from "./store.ts"

/** A store holding a few partitions; DROP PARTITION removes them. */
const partitionStore = () => {
  let parts = [
    { table: "telemetry", partition: "20261101" }, { table: "telemetry", partition: "20261117" },
    { table: "telemetry_1m", partition: "20261101" }, { table: "alerts", partition: "202609" }, { table: "alerts", partition: "202611" },
  ]
  const drops: string[] = []
  const state = { down: false }
  const store: Store = {
    kind: "chdb",
    binaryInsert: false,
    async exec(sql) {
      if (state.down) throw new StoreUnavailable({ op: "exec", message: "down" })
      const m = /ALTER TABLE `?(\w+)`? DROP PARTITION (\d+)/.exec(sql)
      if (!m) throw new Error(`unexpected ${sql}`)
      drops.push(`${m[1]}:${m[2]}`)
      parts = parts.filter((p) => !(p.table === m[1] && p.partition === m[2]))
    },
    async query<T>() {
      if (state.down) throw new StoreUnavailable({ op: "query", message: "down" })
      return parts as T[]
    },
    async insert() {},
    close: async () => {},
  }
  return { store, drops, state, parts: () => parts }
}

describe("retention job", () => {
  test("drops partitions past retention at once and on schedule, only while the lease is held", async () => {
    const clock = new TestClock()
    const advance = (ms: number) => clock.advance(ms) // now = 2026-11-18
    const s = partitionStore()
    const job = makeRetentionJob(s.store, { retentionDays: 7, everyMs: 60_000, clock })
    let ours = true
    job.hold(async () => ours)
    await advance(0)
    expect(s.drops.sort()).toEqual(["alerts:202609", "telemetry:20261101", "telemetry_1m:20261101"])
    expect(job.metrics).toMatchObject({ runs: 1, partitionsDropped: 3, notOwner: 0 })

    // A day later on the clock, the partition of the 17th has not expired yet; 8 days on it has.
    await advance(60_000)
    expect(job.metrics.runs).toBe(2)
    expect(s.drops).toHaveLength(3)
    for (let i = 0; i < 8 * 24 * 60; i++) await advance(60_000)
    expect(s.drops).toContain("telemetry:20261117")

    // The lease moved: the next run notices, drops nothing, and the job goes quiet.
    ours = false
    const runs = job.metrics.runs
    s.parts().push({ table: "telemetry", partition: "20200101" })
    await advance(60_000)
    await advance(60_000 * 10)
    expect(job.metrics.runs).toBe(runs)
    expect(job.metrics.notOwner).toBe(1)
    expect(s.drops).not.toContain("telemetry:20200101")

    // Taken back (a new lease): it runs again at once.
    ours = true
    job.hold(async () => ours)
    await advance(0)
    expect(s.drops).toContain("telemetry:20200101")
    job.stop()
  })

  test("a failing store is counted and retried on the next run", async () => {
    const clock = new TestClock()
    const advance = (ms: number) => clock.advance(ms)
    const s = partitionStore()
    const errors: unknown[] = []
    const job = makeRetentionJob(s.store, { retentionDays: 7, everyMs: 1000, clock, onError: (e) => errors.push(e) })
    s.state.down = true
    job.hold(async () => true)
    await advance(0)
    expect(job.metrics.errors).toBe(1)
    expect(errors[0]).toBeInstanceOf(StoreUnavailable)
    s.state.down = false
    await advance(1000)
    await clock.flush()
    expect(s.drops).toHaveLength(3)
    job.stop()
  })

  test("retentionDays 0 keeps everything", async () => {
    const clock = new TestClock()
    const advance = (ms: number) => clock.advance(ms)
    const s = partitionStore()
    const job = makeRetentionJob(s.store, { retentionDays: 0, everyMs: 1000, clock })
    job.hold(async () => true)
    await advance(10_000)
    expect(s.drops).toEqual([])
  })
})
