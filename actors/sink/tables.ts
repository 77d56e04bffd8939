import type { DeviceSchema } from "../../config/device-schema.ts"
import { MigrationFailed } from "./errors.ts"
import { ident, num, quoteString } from "./sql.ts"
import type { Store } from "./store.ts"

/**
 * Table layout (docs/decisions.md "ClickHouse tables"): a wide `telemetry` table with one Float64
 * column per schema field, de-duplicated by ReplacingMergeTree on (device_id, ts, seq, ms); `alerts`
 * de-duplicated on the transition id; `telemetry_1m`, a per-minute rollup written by the rollup job
 * off the insert path (rollup.ts), and `telemetry_1m_runs`, what each rollup run covered. Every type and clause here works on ClickHouse 18.16 and 26.x alike.
 */
export const tables = {
  telemetry: "telemetry", rollup: "telemetry_1m", rollupRuns: "telemetry_1m_runs", alerts: "alerts", explanations: "alert_explanations",
  /** The materialized view of layouts before the rollup job; {@link migrate} drops it. */
  legacyRollupView: "telemetry_1m_mv",
} as const

/** Fixed leading columns of `telemetry`, in insert order; the schema's fields follow. */
export const telemetryKeyColumns = ["device_id", "seq", "ts", "ms", "ingested"] as const

/** Every `telemetry` column in insert order for `schema`. */
export const telemetryColumns = (schema: DeviceSchema): string[] => [...telemetryKeyColumns, ...schema.fields.map((f) => f.name)]

/** Columns of `alerts` in insert order. */
export const alertColumns = [
  "id", "alert_id", "device_id", "rule", "kind", "severity", "at", "at_ms", "seq", "message", "values_json",
  "channels", "rule_version", "recv_at", "ingested",
] as const

const fieldDefs = (schema: DeviceSchema): string => schema.fields.map((f) => `${ident(f.name)} Float64 DEFAULT nan`).join(",\n  ")

const telemetryDdl = (schema: DeviceSchema): string => `CREATE TABLE IF NOT EXISTS ${tables.telemetry} (
  device_id String,
  seq UInt64,
  ts DateTime('UTC'),
  ms UInt16,
  ingested DateTime('UTC'),
  ${fieldDefs(schema)}
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (device_id, ts, seq, ms)`

/**
 * The sorting key is the de-duplication key: a copy of a reading has the same device, ts (second
 * + ms) and seq. Without `ms`, two readings of a device that restarted its numbering (the same seq
 * again) within one second would be collapsed into one. Tables created before this key keep the
 * old one (ClickHouse cannot change a sorting key in place); {@link migrate} warns about them.
 */
const telemetryKey = "ORDER BY (device_id, ts, seq, ms)"

/**
 * Per field of the rollup: readings that carried it, their sum (avg = sum / n over any span of
 * minutes), min and max (meaningful only where `_n` > 0). Plain columns, not aggregate states:
 * a row is replaced whole when its minute is recomputed.
 */
export const rollupFieldColumns = (f: string) => [
  [`${f}_n`, "UInt32", `countIf(NOT isNaN(${ident(f)}))`, "0"],
  [`${f}_sum`, "Float64", `sumIf(${ident(f)}, NOT isNaN(${ident(f)}))`, "0"],
  [`${f}_min`, "Float64", `minIf(${ident(f)}, NOT isNaN(${ident(f)}))`, "0"],
  [`${f}_max`, "Float64", `maxIf(${ident(f)}, NOT isNaN(${ident(f)}))`, "0"],
] as const

/**
 * The 1-minute rollup, written by the rollup job (rollup.ts) from de-duplicated telemetry: one row
 * per (device, minute), re-computed whole when late or replayed readings touch the minute; the
 * row with the highest `version` (the run's watermark) wins, at merge or with `FINAL`.
 */
const rollupDdl = (schema: DeviceSchema): string => `CREATE TABLE IF NOT EXISTS ${tables.rollup} (
  device_id String,
  minute DateTime('UTC'),
  version UInt32,
  n UInt32,
  ${schema.fields.flatMap((f) => rollupFieldColumns(f.name).map(([c, t, , d]) => `${ident(c)} ${t} DEFAULT ${d}`)).join(",\n  ")}
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(minute)
ORDER BY (device_id, minute)`

/**
 * One row per finished rollup run: every minute in [covered_from, closed) was computed from the
 * telemetry ingested up to `done` (the run's watermark, epoch seconds of the `ingested` clock);
 * minutes with rows ingested after `done - overlap_s` may still change and are read raw.
 */
const rollupRunsDdl = `CREATE TABLE IF NOT EXISTS ${tables.rollupRuns} (
  done DateTime('UTC'),
  closed DateTime('UTC'),
  covered_from DateTime('UTC'),
  overlap_s UInt32,
  rows UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(done)
ORDER BY done`

/** SELECT computing rollup rows (version `version`) from `source`, which must be de-duplicated. */
export const rollupSelect = (schema: DeviceSchema, source: string, version: number, where = "1"): string =>
  `SELECT device_id, toStartOfMinute(ts) AS minute, toUInt32(${num(version)}) AS version, toUInt32(count()) AS n, ${
    schema.fields.flatMap((f) => rollupFieldColumns(f.name).map(([c, , e]) => `${e} AS ${ident(c)}`)).join(", ")
  } FROM ${source} WHERE ${where} GROUP BY device_id, minute`

/** Columns of {@link rollupSelect}, for INSERT INTO … (columns) SELECT. */
export const rollupColumns = (schema: DeviceSchema): string[] =>
  ["device_id", "minute", "version", "n", ...schema.fields.flatMap((f) => rollupFieldColumns(f.name).map(([c]) => ident(c)))]

const alertsDdl = `CREATE TABLE IF NOT EXISTS ${tables.alerts} (
  id String,
  alert_id String,
  device_id String,
  rule String,
  kind Enum8('raised' = 1, 'escalated' = 2, 'cleared' = 3),
  severity Enum8('info' = 1, 'warning' = 2, 'critical' = 3),
  at DateTime('UTC'),
  at_ms UInt16,
  seq UInt64,
  message String,
  values_json String,
  channels Array(String),
  rule_version UInt32,
  recv_at UInt64,
  ingested DateTime('UTC')
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (device_id, at, id)`

/** Columns of `alert_explanations` in insert order. */
export const explanationColumns = ["transition_id", "alert_id", "device_id", "rule", "at", "model", "text", "created", "latency_ms", "cached"] as const

// The interpreter's explanations, one per explained transition (de-duplicated on its id). A table
// of its own rather than a column of `alerts`: it arrives later, and 18.16 cannot UPDATE.
const explanationsDdl = `CREATE TABLE IF NOT EXISTS ${tables.explanations} (
  transition_id String,
  alert_id String,
  device_id String,
  rule String,
  at DateTime('UTC'),
  model String,
  text String,
  created DateTime('UTC'),
  latency_ms UInt32,
  cached UInt8
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (alert_id, transition_id)`

/** What {@link migrate} did. */
export interface MigrationReport {
  readonly created: ReadonlyArray<string>
  readonly addedColumns: ReadonlyArray<string>
  /** Problems migrate cannot fix by itself (e.g. an old telemetry sorting key). */
  readonly warnings: ReadonlyArray<string>
  /** Derived tables and views of an older layout that were dropped (the rollup job rebuilds recent days). */
  readonly dropped?: ReadonlyArray<string>
}

const columnsOf = async (store: Store, table: string): Promise<Map<string, string>> => {
  const rows = await store.query<{ name: string; type: string }>(
    `SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = ${quoteString(table)}`,
  )
  return new Map(rows.map((r) => [r.name, r.type]))
}

/**
 * Creates the tables for `schema`, or extends them when the schema gained fields (ALTER ADD
 * COLUMN; old rows read NaN = not sent, old rollup rows count 0 readings of the field). Moves an
 * older layout to this one: the materialized view `telemetry_1m_mv` and its AggregatingMergeTree
 * `telemetry_1m` are dropped (derived data; telemetry is untouched) and the rollup job recomputes
 * the last `clickhouse.rollupBackfillDays` days; older days are answered from raw telemetry.
 * Run at start-up before any sink inserts. Refuses a field whose column has another type.
 */
export const migrate = async (store: Store, schema: DeviceSchema): Promise<MigrationReport> => {
  const created: string[] = []
  const addedColumns: string[] = []
  const dropped: string[] = []
  let before = new Set((await store.query<{ name: string }>(
    "SELECT name FROM system.tables WHERE database = currentDatabase()",
  )).map((r) => r.name))
  if (before.has(tables.legacyRollupView)) {
    await store.exec(`DROP TABLE IF EXISTS ${tables.legacyRollupView}`)
    dropped.push(tables.legacyRollupView)
  }
  if (before.has(tables.rollup) && !(await columnsOf(store, tables.rollup)).has("version")) {
    // The view's AggregatingMergeTree (aggregate states, replays counted twice): derived, so dropped.
    await store.exec(`DROP TABLE IF EXISTS ${tables.rollup}`)
    await store.exec(`DROP TABLE IF EXISTS ${tables.rollupRuns}`)
    dropped.push(tables.rollup)
    before = new Set([...before].filter((t) => t !== tables.rollup && t !== tables.rollupRuns))
  }
  for (const [name, ddl] of [
    [tables.telemetry, telemetryDdl(schema)], [tables.rollup, rollupDdl(schema)], [tables.rollupRuns, rollupRunsDdl], [tables.alerts, alertsDdl],
    [tables.explanations, explanationsDdl],
  ] as const) {
    if (!before.has(name)) {
      await store.exec(ddl)
      created.push(name)
    }
  }
  const warnings: string[] = []
  if (before.has(tables.telemetry)) {
    const [show] = await store.query<{ statement: string }>(`SHOW CREATE TABLE ${tables.telemetry}`)
    if (show && !show.statement.replace(/\s+/g, " ").includes(telemetryKey)) {
      warnings.push(`${tables.telemetry} was created with an older sorting key (not ${telemetryKey}): readings of a device that restarts its numbering within one second can be collapsed; rebuild the table (docs/sink.md) to fix`)
    }
  }
  const tel = await columnsOf(store, tables.telemetry)
  const roll = await columnsOf(store, tables.rollup)
  for (const f of schema.fields) {
    const type = tel.get(f.name)
    if (type !== undefined && type !== "Float64") {
      throw new MigrationFailed({ message: `telemetry.${f.name} is ${type}, the device schema needs Float64; migrate by hand` })
    }
    if (type === undefined) {
      await store.exec(`ALTER TABLE ${tables.telemetry} ADD COLUMN ${ident(f.name)} Float64 DEFAULT nan`)
      addedColumns.push(`${tables.telemetry}.${f.name}`)
    }
    for (const [c, t, , d] of rollupFieldColumns(f.name)) {
      if (!roll.has(c)) {
        await store.exec(`ALTER TABLE ${tables.rollup} ADD COLUMN ${ident(c)} ${t} DEFAULT ${d}`)
        addedColumns.push(`${tables.rollup}.${c}`)
      }
    }
  }
  return { created, addedColumns, warnings, dropped }
}

/** UTC day number `YYYYMMDD` of epoch ms `t`. */
export const dayOf = (t: number): number => {
  const d = new Date(t)
  return d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate()
}

/**
 * Drops day partitions (telemetry, rollup) and month partitions (alerts, rollup runs) wholly older than
 * `retentionDays` before `now` (18.16 has no TTL). Returns the partitions dropped.
 */
export const dropExpired = async (store: Store, retentionDays: number, now: number): Promise<string[]> => {
  if (retentionDays <= 0) return []
  const cutoffDay = dayOf(now - retentionDays * 86_400_000)
  const cutoffMonth = Math.floor(cutoffDay / 100)
  const parts = await store.query<{ table: string; partition: string }>(
    `SELECT DISTINCT table, partition FROM system.parts WHERE active AND database = currentDatabase() AND table IN (${
      [tables.telemetry, tables.rollup, tables.rollupRuns, tables.alerts, tables.explanations].map(quoteString).join(", ")
    })`,
  )
  const dropped: string[] = []
  for (const p of parts) {
    const id = Number(p.partition)
    if (!Number.isInteger(id)) continue
    const old = p.table === tables.alerts || p.table === tables.rollupRuns || p.table === tables.explanations ? id < cutoffMonth : id < cutoffDay
    if (old) {
      await store.exec(`ALTER TABLE ${ident(p.table)} DROP PARTITION ${id}`)
      dropped.push(`${p.table}:${id}`)
    }
  }
  return dropped
}
