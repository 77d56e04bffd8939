/**
 * What ClickHouse holds, for the set comparisons of tests/support/sets.ts: the raw telemetry rows
 * (no FINAL, every copy counted), the rows as queries see them (FINAL, history queries), and every
 * row ever *written* (a test-only audit table: copies that merges removed since still count).
 */
import type { DeviceSchema } from "../../config/device-schema.ts"
import { readings, tables, type Store } from "../../actors/sink/index.ts"
import { quoteString } from "../../actors/sink/index.ts"
import { readingKey, type DeviceRange } from "./sets.ts"

/** The audit table: one (device_id, seq) row per telemetry row inserted, never de-duplicated. */
export const writtenTable = "telemetry_written"

/**
 * Creates the audit table and the view that fills it on every insert into `telemetry` (a plain
 * MergeTree: merges keep every copy). Call after `migrate` and before anything is inserted.
 * Not a `Log` table: it saved no measurable server CPU (`ops bench sink-cost`,
 * docs/benchmarks-history.md), its writes are not atomic (sink-outage kills the server mid-insert),
 * and its write lock, held while its output stream lives (18.16 StorageLog), can make the nodes'
 * concurrent telemetry inserts wait for each other. `engine` is there for `ops bench sink-cost`,
 * which compares engines.
 */
export const installWriteAudit = async (store: Store, engine = "MergeTree ORDER BY (device_id, seq)"): Promise<void> => {
  await store.exec(`CREATE TABLE IF NOT EXISTS ${writtenTable} (device_id String, seq UInt64) ENGINE = ${engine}`)
  await store.exec(`CREATE MATERIALIZED VIEW IF NOT EXISTS ${writtenTable}_view TO ${writtenTable} AS SELECT device_id, seq FROM ${tables.telemetry}`)
}

export type StoredRow = { device_id: string; seq: number }
export const storedKey = (r: StoredRow): string => readingKey(r.device_id, r.seq)

/** Every (device_id, seq) row of `table` (copies included), `FINAL` when asked. Small tables only. */
export const storedRows = (store: Store, from: string = tables.telemetry, final = false): Promise<StoredRow[]> =>
  store.query<StoredRow>(`SELECT device_id, seq FROM ${from}${final ? " FINAL" : ""}`)

/**
 * One row per reading the history queries return for each device (raw rows, no downsampling),
 * keyed by (device, time) since the query returns no seq: the count per device is what is compared.
 */
export const historyCounts = async (store: Store, schema: DeviceSchema, devices: ReadonlyArray<string>, from: number, to: number): Promise<Map<string, number>> => {
  const out = new Map<string, number>()
  for (const device of devices) {
    const r = await readings(store, schema, { device, from, to, fields: [schema.fields[0]!.name], limit: 100_000 })
    out.set(device, r.t.length)
  }
  return out
}

/** `seq` within the seqs one run's devices sent (min first .. max sent_to). */
export const windowWhere = (ranges: ReadonlyArray<DeviceRange>): string =>
  `seq BETWEEN ${Math.min(...ranges.map((r) => r.first))} AND ${Math.max(...ranges.map((r) => Math.max(r.first, r.sent_to)))}`

/** Counts of a range check, all over the devices given (see {@link rangeCheck}). */
export interface RangeCheck {
  /** Acked readings (expected). */
  readonly acked: number
  /** Acked readings with no row. */
  readonly lost: number
  /** Acked or sent readings with more than one row (each counted once). */
  readonly duplicated: number
  /** Rows − distinct (device, seq): the extra copies. */
  readonly extraRows: number
  /** Rows whose (device, seq) was never sent (or was refused). */
  readonly unexpected: number
  /** Rows of the given devices. */
  readonly rows: number
}

/** Readings the ranges say were acknowledged (rejected seqs left out). */
export const ackedCount = (ranges: ReadonlyArray<DeviceRange>): number => {
  let acked = 0
  for (const r of ranges) {
    if (r.acked_to < r.first) continue
    const no = new Set(r.rejected.filter((x) => x >= r.first && x <= r.acked_to))
    acked += r.acked_to - r.first + 1 - no.size
  }
  return acked
}

/**
 * The same comparison as `compareSets(ackedKeys(ranges), rows, …, { allowed: wasSent(ranges) })`,
 * done inside ClickHouse for tables too large to fetch (millions of rows): per device, the seqs
 * in `first..acked_to` must each have exactly one row, seqs outside `first..sent_to` none.
 * `onlyWindow`: look only at seqs in this run's window (runs of one simulator numbered apart,
 * checked one by one; rows outside every window are then counted by the caller).
 */
export const rangeCheck = async (
  store: Store, from: string, ranges: ReadonlyArray<DeviceRange>, final = false, o: { onlyWindow?: boolean } = {},
): Promise<RangeCheck> => {
  const devs = `[${ranges.map((r) => quoteString(r.device)).join(",")}]`
  const col = (f: (r: DeviceRange) => number) => `transform(device_id, ${devs}, [${ranges.map((r) => `toUInt64(${Math.max(0, f(r))})`).join(",")}], toUInt64(0))`
  const rej = (r: DeviceRange) => r.rejected
  const anyRejected = ranges.some((r) => rej(r).length > 0)
  const rejectedExpr = anyRejected
    ? `has(arrayElement([${ranges.map((r) => `[${rej(r).map((s) => `toUInt64(${s})`).join(",") || "toUInt64(0)"}]`).join(",")}], indexOf(${devs}, device_id)), seq)`
    : "0"
  const inAcked = `(seq >= ${col((r) => r.first)} AND toInt64(seq) <= ${`transform(device_id, ${devs}, [${ranges.map((r) => `toInt64(${r.acked_to})`).join(",")}], toInt64(-1))`} AND NOT ${rejectedExpr})`
  const inSent = `(seq >= ${col((r) => r.first)} AND seq <= ${col((r) => r.sent_to)} AND NOT ${rejectedExpr})`
  const [s] = await store.query<{ rows: number; uniq: number; acked_uniq: number; unexpected: number; dup_keys: number }>(
    `SELECT sum(c) AS rows, count() AS uniq, countIf(a) AS acked_uniq, countIf(NOT s) AS unexpected, countIf(c > 1) AS dup_keys FROM (` +
    `SELECT device_id, seq, count() AS c, any(${inAcked}) AS a, any(${inSent}) AS s FROM ${from}${final ? " FINAL" : ""} ` +
    `WHERE device_id IN (${ranges.map((r) => quoteString(r.device)).join(",")})${o.onlyWindow ? ` AND ${windowWhere(ranges)}` : ""} GROUP BY device_id, seq)`)
  const acked = ackedCount(ranges)
  return {
    acked, lost: acked - Number(s!.acked_uniq), duplicated: Number(s!.dup_keys), extraRows: Number(s!.rows) - Number(s!.uniq),
    unexpected: Number(s!.unexpected), rows: Number(s!.rows),
  }
}
