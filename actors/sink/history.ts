import type { DeviceSchema } from "../../config/device-schema.ts"
import type { AlertTransition } from "../../runtime/alert.ts"
import { HistoryInputInvalid } from "./errors.ts"
import { ident, num, quoteString } from "./sql.ts"
import type { Store } from "./store.ts"
import { rollupState } from "./rollup.ts"
import { tables } from "./tables.ts"

/**
 * History queries for the HTTP API. Every input is validated here and every value rendered by
 * sql.ts (18.16 has no server-side parameters), so no unchecked string reaches SQL. Telemetry
 * is de-duplicated at read time (copies dropped or `FINAL`), so replays never show twice.
 */

/** Device ids are subject-safe tokens. */
export const deviceIdPattern = /^[A-Za-z0-9_-]{1,128}$/
/** Rule names as the DSL spells them. */
export const ruleNamePattern = /^[A-Za-z0-9_.:-]{1,128}$/
/** Bounds of the inputs. */
export const historyLimits = { maxPoints: 10_000, maxRows: 100_000, maxSpanMs: 400 * 86_400_000, maxAlerts: 10_000 } as const

const minTime = 0
const maxTime = 4_294_967_295_000 // DateTime (UInt32 seconds) ends in 2106

const bad = (field: string, message: string): never => {
  throw new HistoryInputInvalid({ field, message })
}

const checkDevice = (device: unknown, field = "device"): string =>
  typeof device === "string" && deviceIdPattern.test(device) ? device : bad(field, `must match ${deviceIdPattern}`)

const checkInt = (v: unknown, field: string, min: number, max: number): number =>
  typeof v === "number" && Number.isInteger(v) && v >= min && v <= max ? v : bad(field, `must be an integer in [${min}, ${max}]`)

const checkRange = (from: unknown, to: unknown): { from: number; to: number } => {
  const f = checkInt(from, "from", minTime, maxTime)
  const t = checkInt(to, "to", minTime, maxTime)
  if (t < f) bad("to", "must not be before from")
  if (t - f > historyLimits.maxSpanMs) bad("to", `range longer than ${historyLimits.maxSpanMs / 86_400_000} days`)
  return { from: f, to: t }
}

const checkFields = (schema: DeviceSchema, fields: unknown): string[] => {
  if (fields === undefined) return schema.fields.map((f) => f.name)
  if (!Array.isArray(fields) || fields.length === 0) return bad("fields", "must be a non-empty list of field names")
  return fields.map((f) => (typeof f === "string" && schema.byName.has(f) ? f : bad("fields", `unknown field ${JSON.stringify(f)}`)))
}

/** Time filter using the primary key (seconds) and then exact milliseconds. */
const timeWhere = (tsCol: string, msCol: string, from: number, to: number): string =>
  `${tsCol} >= toDateTime(${num(Math.floor(from / 1000))}) AND ${tsCol} <= toDateTime(${num(Math.floor(to / 1000))}) ` +
  `AND toUInt64(${tsCol}) * 1000 + ${msCol} BETWEEN ${num(from)} AND ${num(to)}`

/** A device's readings between two times, raw or averaged into buckets. */
export interface ReadingsQuery {
  readonly device: string
  /** Epoch ms, inclusive. */
  readonly from: number
  readonly to: number
  /** Field names (default: all). */
  readonly fields?: ReadonlyArray<string> | undefined
  /** Downsample to at most this many buckets (averages; NaN = not sent is skipped). Omit for raw rows. */
  readonly points?: number | undefined
  /** Raw rows cap (default 10,000). */
  readonly limit?: number | undefined
  /**
   * Where downsampled buckets come from. `rollup`: the 1-minute rollup, buckets widened to whole
   * minutes and aligned to minute starts; minutes the rollup does not cover yet (open, touched by
   * rows ingested after its last run, outside its days) are read raw, so it is exact. `raw`:
   * always raw telemetry. `auto` (default): rollup when buckets are a minute or wider, else raw.
   */
  readonly source?: "auto" | "raw" | "rollup" | undefined
}

/** Columnar result: `t[i]` (bucket start or reading time, epoch ms), `n[i]` readings in it, values per field (null = none). */
export interface ReadingsResult {
  readonly device: string
  readonly fields: ReadonlyArray<string>
  /** Bucket width in ms (0 for raw rows). */
  readonly bucketMs: number
  readonly t: number[]
  readonly n: number[]
  readonly values: Record<string, Array<number | null>>
}

/** Readings of one device in [from, to], de-duplicated, raw or downsampled to `points` buckets. */
export const readings = async (store: Store, schema: DeviceSchema, q: ReadingsQuery): Promise<ReadingsResult> => {
  const device = checkDevice(q.device)
  const { from, to } = checkRange(q.from, q.to)
  const fields = checkFields(schema, q.fields)
  const points = q.points === undefined ? undefined : checkInt(q.points, "points", 1, historyLimits.maxPoints)
  const limit = q.limit === undefined ? 10_000 : checkInt(q.limit, "limit", 1, historyLimits.maxRows)
  const source = q.source ?? "auto"
  if (source !== "raw" && source !== "rollup" && source !== "auto") bad("source", "must be auto, raw or rollup")
  if (source === "rollup" && points === undefined) bad("points", "the rollup source needs points")
  if (points !== undefined && (source === "rollup" || (source === "auto" && (to - from + 1) / points >= 60_000))) {
    return rollupReadings(store, device, from, to, fields, points)
  }
  return rawReadings(store, device, from, to, fields, points, limit)
}

const rawReadings = async (
  store: Store, device: string, from: number, to: number, fields: string[], points: number | undefined, limit: number,
  fixedBucketMs?: number,
): Promise<ReadingsResult> => {
  const where = `device_id = ${quoteString(device)} AND ${timeWhere("ts", "ms", from, to)}`
  const vals = fields.map((f) => `${ident(f)} AS ${ident(`v_${f}`)}`).join(", ")
  let bucketMs = 0
  let rows: Array<Record<string, number | null>>
  if (points === undefined && fixedBucketMs === undefined) {
    // Copies of a reading are identical rows with the same (t, seq), adjacent in this order: drop
    // them here. Only when copies cut the page short is the query repeated with FINAL.
    const sql = (final: string) => `SELECT toUInt64(ts) * 1000 + ms AS t, seq, 1 AS n, ${vals} FROM ${tables.telemetry}${final} ` +
      `WHERE ${where} ORDER BY t, seq LIMIT ${num(limit)}`
    const all = await store.query<Record<string, number | null>>(sql(""))
    rows = all.filter((r, i) => i === 0 || r.t !== all[i - 1]!.t || r.seq !== all[i - 1]!.seq)
    if (rows.length < all.length && all.length === limit) rows = await store.query(sql(" FINAL"))
  } else {
    bucketMs = fixedBucketMs ?? Math.max(1, Math.ceil((to - from + 1) / points!))
    // Copies share ts, hence a bucket: a bucket whose row count equals its distinct seqs holds no
    // copies and its averages are exact. Measured ≈ 35 % faster than FINAL on 18.16; FINAL is
    // the fallback when any bucket holds copies (until merges collapse them).
    const sql = (final: string) => `SELECT ${num(from)} + intDiv(toUInt64(ts) * 1000 + ms - ${num(from)}, ${num(bucketMs)}) * ${num(bucketMs)} AS t, ` +
      `count() AS n, uniqExact(seq) AS u, ${
        fields.map((f) => `avgIf(${ident(f)}, NOT isNaN(${ident(f)})) AS ${ident(`v_${f}`)}`).join(", ")
      } FROM ${tables.telemetry}${final} WHERE ${where} GROUP BY t ORDER BY t`
    rows = await store.query<Record<string, number | null>>(sql(""))
    if (rows.some((r) => r.n !== r.u)) rows = await store.query(sql(" FINAL"))
  }
  const out: ReadingsResult = { device, fields, bucketMs, t: [], n: [], values: Object.fromEntries(fields.map((f) => [f, []])) }
  for (const r of rows) {
    out.t.push(Number(r.t))
    out.n.push(Number(r.n))
    for (const f of fields) {
      const v = r[`v_${f}`]
      out.values[f]!.push(typeof v === "number" && Number.isFinite(v) ? v : null)
    }
  }
  return out
}

type Bucket = { n: number; c: number[]; s: number[] }

/**
 * Minute-aligned buckets: minutes the latest rollup run covers and that no later ingested row
 * touched come from the rollup; the others (not yet closed or rolled up, outside the covered days,
 * or touched after the run's watermark minus its overlap) from raw telemetry, de-duplicated.
 * Each minute is read from exactly one source, so the sum is exact.
 */
const rollupReadings = async (
  store: Store, device: string, from: number, to: number, fields: string[], points: number,
): Promise<ReadingsResult> => {
  const bucketMs = Math.max(1, Math.ceil((to - from + 1) / points / 60_000)) * 60_000
  const start = Math.floor(from / 60_000) * 60_000
  const end = Math.min(maxTime, Math.floor(to / 60_000) * 60_000 + 59_999)
  const [startS, endS] = [start / 1000, Math.floor(end / 1000)]
  const dev = `device_id = ${quoteString(device)}`
  const state = await rollupState(store)
  const buckets = new Map<number, Bucket>()
  const add = (r: Record<string, number | null>) => {
    const t = Number(r.t)
    const b = buckets.get(t) ?? { n: 0, c: fields.map(() => 0), s: fields.map(() => 0) }
    b.n += Number(r.cnt)
    fields.forEach((f, i) => {
      b.c[i]! += Number(r[`c_${f}`] ?? 0)
      const v = r[`s_${f}`]
      if (typeof v === "number" && Number.isFinite(v)) b.s[i]! += v
    })
    buckets.set(t, b)
  }
  let rawCond = ""
  if (state) {
    const stale = `SELECT toStartOfMinute(ts) FROM ${tables.telemetry} WHERE ${dev} AND ts >= toDateTime(${num(startS)}) ` +
      `AND ts <= toDateTime(${num(endS)}) AND ingested > toDateTime(${num(Math.max(0, state.done - state.overlapS))})`
    const lo = Math.max(startS, state.coveredFrom)
    const hi = Math.min(endS + 1, state.closed)
    if (lo < hi) {
      const rows = await store.query<Record<string, number | null>>(
        `SELECT ${num(start)} + intDiv(toUInt64(minute) * 1000 - ${num(start)}, ${num(bucketMs)}) * ${num(bucketMs)} AS t, sum(n) AS cnt, ${
          fields.map((f) => `sum(${ident(`${f}_n`)}) AS ${ident(`c_${f}`)}, sum(${ident(`${f}_sum`)}) AS ${ident(`s_${f}`)}`).join(", ")
        } FROM ${tables.rollup} FINAL WHERE ${dev} AND minute >= toDateTime(${num(lo)}) AND minute < toDateTime(${num(hi)}) ` +
          `AND minute NOT IN (${stale}) GROUP BY t`,
      )
      rows.forEach(add)
    }
    rawCond = ` AND (ts < toDateTime(${num(lo)}) OR ts >= toDateTime(${num(Math.max(lo, hi))}) OR toStartOfMinute(ts) IN (${stale}))`
  }
  // Copies share ts, hence a bucket: count() = uniqExact(seq) proves a bucket holds none; else FINAL.
  const sql = (final: string) => `SELECT ${num(start)} + intDiv(toUInt64(ts) * 1000 + ms - ${num(start)}, ${num(bucketMs)}) * ${num(bucketMs)} AS t, ` +
    `count() AS cnt, uniqExact(seq) AS u, ${
      fields.map((f) => `countIf(NOT isNaN(${ident(f)})) AS ${ident(`c_${f}`)}, sumIf(${ident(f)}, NOT isNaN(${ident(f)})) AS ${ident(`s_${f}`)}`).join(", ")
    } FROM ${tables.telemetry}${final} WHERE ${dev} AND ${timeWhere("ts", "ms", start, end)}${rawCond} GROUP BY t`
  let raw = await store.query<Record<string, number | null>>(sql(""))
  if (raw.some((r) => r.cnt !== r.u)) raw = await store.query(sql(" FINAL"))
  raw.forEach(add)
  const out: ReadingsResult = { device, fields, bucketMs, t: [], n: [], values: Object.fromEntries(fields.map((f) => [f, []])) }
  for (const t of [...buckets.keys()].sort((a, b) => a - b)) {
    const b = buckets.get(t)!
    out.t.push(t)
    out.n.push(b.n)
    fields.forEach((f, i) => out.values[f]!.push(b.c[i]! > 0 ? b.s[i]! / b.c[i]! : null))
  }
  return out
}

/** A fleet-wide aggregate of one field, from the 1-minute rollup. */
export interface FleetQuery {
  readonly field: string
  readonly from: number
  readonly to: number
  /** `device`: one row per device; `minute`: one row per minute across devices; `total`: one row. */
  readonly by: "device" | "minute" | "total"
  readonly limit?: number | undefined
}

/** One row of {@link fleetAggregate}: `key` is the device id, the minute (epoch ms) or "total". */
export interface FleetRow {
  readonly key: string | number
  readonly n: number
  readonly avg: number | null
  readonly min: number | null
  readonly max: number | null
}

/**
 * Count, average, min and max of `field` across the fleet over whole minutes in [from, to), each
 * reading once. Minutes the latest rollup run covers come from the rollup (1,440 rows per
 * device-day), the others (not yet closed, before the covered days) from de-duplicated raw
 * telemetry. A late reading for an already rolled-up minute counts from the next run on (every
 * `clickhouse.rollupEveryMs`). Min/max are null where no reading had the field.
 */
export const fleetAggregate = async (store: Store, schema: DeviceSchema, q: FleetQuery): Promise<FleetRow[]> => {
  const { from, to } = checkRange(q.from, q.to)
  const [field] = checkFields(schema, [q.field])
  const by = q.by === "device" || q.by === "minute" || q.by === "total" ? q.by : bad("by", "must be device, minute or total")
  const limit = q.limit === undefined ? 10_000 : checkInt(q.limit, "limit", 1, historyLimits.maxRows)
  const key = by === "device" ? "device_id" : by === "minute" ? "toUInt64(minute) * 1000" : "'total'"
  const [fromS, toS] = [Math.floor(from / 1000), Math.ceil(to / 1000)]
  const state = await rollupState(store)
  const f = ident(field!)
  const c = (s: string) => ident(`${field!}_${s}`)
  const minutes = (col: string, lo: number, hi: number) => `${col} >= toDateTime(${num(lo)}) AND ${col} < toDateTime(${num(hi)})`
  const rawMinutes = `toStartOfMinute(ts) >= toDateTime(${num(fromS)}) AND toStartOfMinute(ts) < toDateTime(${num(toS)}) ` +
    `AND ts >= toDateTime(${num(Math.floor(fromS / 60) * 60)}) AND ts < toDateTime(${num(toS + 60)})`
  const parts: string[] = []
  let rawCond = ""
  if (state) {
    const lo = Math.max(fromS, state.coveredFrom)
    const hi = Math.min(toS, state.closed)
    if (lo < hi) {
      parts.push(`SELECT device_id, minute, toUInt64(n) AS cnt, toUInt64(${c("n")}) AS c, ${c("sum")} AS s, ${c("min")} AS lo, ${c("max")} AS hi ` +
        `FROM ${tables.rollup} FINAL WHERE ${minutes("minute", lo, hi)}`)
    }
    rawCond = ` AND (ts < toDateTime(${num(lo)}) OR ts >= toDateTime(${num(Math.max(lo, hi))}))`
  }
  parts.push(`SELECT device_id, toStartOfMinute(ts) AS minute, toUInt64(count()) AS cnt, toUInt64(countIf(NOT isNaN(${f}))) AS c, ` +
    `sumIf(${f}, NOT isNaN(${f})) AS s, minIf(${f}, NOT isNaN(${f})) AS lo, maxIf(${f}, NOT isNaN(${f})) AS hi ` +
    `FROM ${tables.telemetry} FINAL WHERE ${rawMinutes}${rawCond} GROUP BY device_id, minute`)
  const sql = `SELECT ${key} AS key, sum(cnt) AS n_all, sum(c) AS n_f, sum(s) AS total, minIf(lo, c > 0) AS lo_f, maxIf(hi, c > 0) AS hi_f ` +
    `FROM (${parts.join(" UNION ALL ")}) GROUP BY key ORDER BY key LIMIT ${num(limit)}`
  const rows = await store.query<{ key: string | number; n_all: number; n_f: number; total: number | null; lo_f: number | null; hi_f: number | null }>(sql)
  return rows.filter((r) => Number(r.n_all) > 0).map((r) => {
    const has = Number(r.n_f) > 0
    return {
      key: by === "minute" ? Number(r.key) : String(r.key),
      n: Number(r.n_all),
      avg: has ? Number(r.total) / Number(r.n_f) : null,
      min: has ? r.lo_f : null,
      max: has ? r.hi_f : null,
    }
  })
}

/** Alerts filter: time range plus optional device, rule, severity. */
export interface AlertsQuery {
  readonly from: number
  readonly to: number
  readonly device?: string | undefined
  readonly rule?: string | undefined
  readonly severity?: AlertTransition["severity"] | undefined
  readonly limit?: number | undefined
}

/** Stored alert transitions, newest first, each once. */
export const alerts = async (store: Store, q: AlertsQuery): Promise<AlertTransition[]> => {
  const { from, to } = checkRange(q.from, q.to)
  const where = [timeWhere("at", "at_ms", from, to)]
  if (q.device !== undefined) where.push(`device_id = ${quoteString(checkDevice(q.device))}`)
  if (q.rule !== undefined) {
    where.push(`rule = ${quoteString(typeof q.rule === "string" && ruleNamePattern.test(q.rule) ? q.rule : bad("rule", `must match ${ruleNamePattern}`))}`)
  }
  if (q.severity !== undefined) {
    const s = ["info", "warning", "critical"].includes(q.severity) ? q.severity : bad("severity", "must be info, warning or critical")
    where.push(`severity = ${quoteString(s)}`)
  }
  const limit = q.limit === undefined ? 1000 : checkInt(q.limit, "limit", 1, historyLimits.maxAlerts)
  const rows = await store.query<{
    id: string; alert_id: string; device_id: string; rule: string; kind: AlertTransition["kind"]; severity: AlertTransition["severity"]
    at_epoch: number; seq: number; message: string; values_json: string; channels: string[]; rule_version: number; recv_at: number
  }>(
    `SELECT id, alert_id, device_id, rule, kind, severity, toUInt64(at) * 1000 + at_ms AS at_epoch, seq, message, values_json, ` +
      `channels, rule_version, recv_at FROM ${tables.alerts} WHERE ${where.join(" AND ")} ` +
      `ORDER BY at_epoch DESC, id LIMIT 1 BY id LIMIT ${num(limit)}`,
  )
  return rows.map((r) => ({
    id: r.id, alertId: r.alert_id, device: r.device_id, rule: r.rule, kind: r.kind, severity: r.severity, at: Number(r.at_epoch),
    seq: Number(r.seq), message: r.message, values: JSON.parse(r.values_json) as Record<string, number>, channels: r.channels,
    ruleVersion: Number(r.rule_version), recvAt: Number(r.recv_at),
  }))
}
