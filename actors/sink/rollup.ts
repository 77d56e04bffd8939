import type { Clock } from "../../runtime/clock.ts"
import type { DeviceSchema } from "../../config/device-schema.ts"
import { makeElectedJob, type ElectedJob, type ElectedJobMetrics } from "./internal/elected-job.ts"
import { num, quoteString } from "./sql.ts"
import type { Store } from "./store.ts"
import { rollupColumns, rollupSelect, tables } from "./tables.ts"

/**
 * The 1-minute rollup, computed off the insert path (docs/decisions.md "ClickHouse tables"): a
 * periodic run re-computes, from de-duplicated telemetry (`FINAL`), every (device, minute) that
 * rows ingested since the previous run touched, for closed minutes only, and inserts the rows with
 * the run's watermark as version into a ReplacingMergeTree keyed by (device_id, minute): a
 * re-computed minute replaces the old row, so replays and late readings leave it exact.
 *
 * The watermark is the `ingested` clock (the sinks' wall clock, epoch seconds, stamped by each
 * insert attempt as it starts). A row can land after a run with an `ingested` at or before that
 * run's watermark (an insert in flight, another node's clock); each run therefore looks back
 * `overlapS` (≥ one insert attempt, checked by the config) before the previous watermark, and
 * queries treat minutes touched within that overlap as not yet rolled up.
 */

/** What the latest finished run covered (from `telemetry_1m_runs`), in epoch seconds. */
export interface RollupState {
  /** Watermark: telemetry ingested up to here was read. */
  readonly done: number
  /** Minutes before this were closed at the run (minutes from here on are raw-only). */
  readonly closed: number
  /** Minutes from here were computed (the backfill's start); earlier minutes are raw-only. */
  readonly coveredFrom: number
  /** Minutes with rows ingested after `done - overlapS` may be incomplete in the rollup. */
  readonly overlapS: number
}

/** The latest finished run, or undefined when the rollup job never ran (everything is read raw). */
export const rollupState = async (store: Store): Promise<RollupState | undefined> => {
  const [r] = await store.query<{ d: number; c: number; f: number; o: number }>(
    `SELECT toUInt32(done) AS d, toUInt32(closed) AS c, toUInt32(covered_from) AS f, overlap_s AS o FROM ${tables.rollupRuns} ` +
      "ORDER BY done DESC, closed DESC LIMIT 1",
  )
  return r ? { done: Number(r.d), closed: Number(r.c), coveredFrom: Number(r.f), overlapS: Number(r.o) } : undefined
}

export interface RollupRunOptions {
  /** Now, epoch ms, on the clock that stamps `ingested`. */
  readonly now: number
  /** A minute is closed `graceS` seconds after its end. */
  readonly graceS: number
  /** Look-back before the previous watermark (late inserts with an older `ingested`). */
  readonly overlapS: number
  /** On the first run (no state), minutes of the last `backfillDays` days are computed. */
  readonly backfillDays: number
}

/**
 * Seconds after its end at which a minute counts as closed, for a job whose runs look back
 * `overlapS`: the look-back plus 20 s for the pipeline (reading → insert attempt). A run re-reads
 * every minute that rows ingested in its look-back touched; with a shorter grace the minutes the
 * previous run closed are among them, so in steady state each minute was read from `FINAL` two or
 * three times. With this grace their rows are older than the next run's look-back: each minute is
 * read once, when it closes, and again only when a row of it arrives late (replays: still exact).
 * The price: the rollup trails real time by about this much more (queries read those minutes raw).
 */
export const rollupGraceS = (overlapS: number): number => overlapS + 20

/** What one run did. */
export interface RollupRunResult {
  readonly state: RollupState
  /** Device-minutes (re)computed. */
  readonly rows: number
}

const dt = (s: number) => `toDateTime(${num(s)})`

/**
 * One rollup pass: finds the (device, minute) pairs of closed minutes touched by rows ingested
 * after `previous.done - overlapS` (or newly closed since `previous.closed`), recomputes them from
 * `telemetry FINAL` and records the run. Idempotent: running twice recomputes the same rows.
 */
export const runRollup = async (store: Store, schema: DeviceSchema, opts: RollupRunOptions): Promise<RollupRunResult> => {
  const nowS = Math.floor(opts.now / 1000)
  const closed = Math.floor((nowS - opts.graceS) / 60) * 60
  const prev = await rollupState(store)
  const coveredFrom = prev?.coveredFrom ?? Math.floor((nowS - opts.backfillDays * 86_400) / 86_400) * 86_400
  // Only partitions (days) that gained or merged parts since the look-back can hold touched rows.
  const since = prev ? prev.done - opts.overlapS : 0
  const days = prev
    ? (await store.query<{ partition: string }>(
      `SELECT DISTINCT partition FROM system.parts WHERE active AND database = currentDatabase() AND table = ${quoteString(tables.telemetry)} ` +
        `AND modification_time >= ${dt(since - opts.overlapS)}`, // the server's clock may differ from the sinks'

    )).map((p) => Number(p.partition)).filter((d) => Number.isInteger(d) && d > 19700101)
    : []
  const lowDay = days.length > 0 ? Math.min(...days) : undefined
  const lowDayS = lowDay === undefined ? undefined : Date.UTC(Math.floor(lowDay / 10000), Math.floor(lowDay / 100) % 100 - 1, lowDay % 100) / 1000
  const lo = prev ? Math.max(coveredFrom, Math.min(lowDayS ?? prev.closed, prev.closed)) : coveredFrom
  let rows = 0
  // One statement per UTC day: a backfill of days would otherwise hold every group in memory at once.
  for (let from = lo; from < closed; from = (Math.floor(from / 86_400) + 1) * 86_400) {
    const to = Math.min(closed, (Math.floor(from / 86_400) + 1) * 86_400)
    let range = `ts >= ${dt(from)} AND ts < ${dt(to)}`
    let where = range
    if (prev) {
      const isTouched = `(ingested > ${dt(since)} OR ts >= ${dt(prev.closed)})`
      // The recompute reads every column of `FINAL` over its ts range: start that range at the
      // earliest touched minute (usually the last few), not at midnight, and skip untouched days.
      const [t] = await store.query<{ lo: number; n: number }>(
        `SELECT toUInt32(min(ts)) AS lo, count() AS n FROM ${tables.telemetry} WHERE ${range} AND ${isTouched}`,
      )
      if (!t || Number(t.n) === 0) continue
      range = `ts >= ${dt(Math.max(from, Math.floor(Number(t.lo) / 60) * 60))} AND ts < ${dt(to)}`
      where = `${range} AND (device_id, toStartOfMinute(ts)) IN (SELECT device_id, toStartOfMinute(ts) FROM ${tables.telemetry} WHERE ${range} AND ${isTouched})`
    }
    await store.exec(`INSERT INTO ${tables.rollup} (${rollupColumns(schema).join(", ")}) ${rollupSelect(schema, `${tables.telemetry} FINAL`, nowS, where)}`)
  }
  if (closed > lo) {
    const [c] = await store.query<{ c: number }>(`SELECT count() AS c FROM ${tables.rollup} WHERE minute >= ${dt(lo)} AND version = ${num(nowS)}`)
    rows = Number(c?.c ?? 0)
  }
  const state: RollupState = { done: nowS, closed: Math.max(closed, prev?.closed ?? 0), coveredFrom, overlapS: opts.overlapS }
  await store.exec(
    `INSERT INTO ${tables.rollupRuns} (done, closed, covered_from, overlap_s, rows) VALUES (${
      [state.done, state.closed, state.coveredFrom, state.overlapS, rows].map(num).join(", ")
    })`,
  )
  return { state, rows }
}

/** Counters of the rollup job. */
export interface RollupMetrics extends ElectedJobMetrics {
  /** Device-minutes (re)computed. */
  rows: number
}

export interface RollupJobOptions extends Omit<RollupRunOptions, "now"> {
  /** How often a run starts while this node holds the lease. */
  readonly everyMs: number
  /** Time and timers (default: the system clock). */
  readonly clock?: Clock | undefined
  readonly onRun?: ((r: RollupRunResult) => void) | undefined
  readonly onError?: ((e: unknown) => void) | undefined
}

export type RollupJob = ElectedJob<RollupMetrics>

/**
 * The rollup on exactly one node at a time: the holder of shard 0's lease, like retention
 * (retention.ts). Every run re-checks the lease first; an overlap during a takeover only
 * recomputes rows, which the versioned table absorbs.
 */
export const makeRollupJob = (store: Store, schema: DeviceSchema, opts: RollupJobOptions): RollupJob => {
  const metrics: RollupMetrics = { runs: 0, errors: 0, notOwner: 0, rows: 0 }
  return makeElectedJob(metrics, {
    everyMs: opts.everyMs, clock: opts.clock, onError: opts.onError,
    run: async (now) => {
      const r = await runRollup(store, schema, { now, graceS: opts.graceS, overlapS: opts.overlapS, backfillDays: opts.backfillDays })
      metrics.rows += r.rows
      opts.onRun?.(r)
    },
  })
}
