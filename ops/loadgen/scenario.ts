/**
 * Simulator scenarios (YAML): the fleet, its rate, and anomalies to inject. Example:
 *
 *   devices: 1000          # bus-0001 … bus-1000 (certificates from `ops certs devices`)
 *   prefix: bus-
 *   rate: 2                # readings/s per device
 *   duration: 300s
 *   format: json           # json | csv | msgpack
 *   anomalies:
 *     - { device: bus-0042, at: 120s, field: coolant_temp_c, ramp_to: 125, over: 30s }
 *     - { device: bus-0007, at: 60s, field: speed_kmh, ramp_to: 95, over: 5s, for: 20s }
 *
 * `ramp_to` is reached linearly over `over` (0 = a step) and then held for `for` (default: to the end).
 */
import { Schema } from "effect"
import { readFileSync } from "node:fs"
import YAML from "yaml"
import type { DeviceSchema } from "../../config/device-schema.ts"
import type { BusSignals } from "./signals.ts"

/** Seconds from `"120s"`, `"2m"`, `"500ms"`, `"1h"` or a plain number of seconds. */
export const parseDuration = (v: string | number): number => {
  if (typeof v === "number") return v
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v)
  if (!m) throw new Error(`"${v}" is not a duration (e.g. 30s, 2m, 500ms)`)
  const n = Number(m[1])
  return m[2] === "ms" ? n / 1000 : m[2] === "m" ? n * 60 : m[2] === "h" ? n * 3600 : n
}

const Duration = Schema.Union([Schema.String, Schema.Number])
const AnomalyFile = Schema.Struct({
  device: Schema.String,
  at: Duration,
  field: Schema.String,
  ramp_to: Schema.Number,
  over: Schema.optional(Duration),
  for: Schema.optional(Duration),
})
const ScenarioFile = Schema.Struct({
  devices: Schema.optional(Schema.Number),
  prefix: Schema.optional(Schema.String),
  rate: Schema.optional(Schema.Number),
  duration: Schema.optional(Duration),
  format: Schema.optional(Schema.Literals(["json", "csv", "msgpack"])),
  anomalies: Schema.optional(Schema.Array(AnomalyFile)),
})

export interface Anomaly {
  readonly device: string
  readonly at: number
  readonly field: number
  readonly rampTo: number
  readonly over: number
  readonly hold: number
}

export interface Scenario {
  readonly devices: number
  readonly prefix: string
  readonly rate: number
  /** Seconds; Infinity = until stopped. */
  readonly duration: number
  readonly format: "json" | "csv" | "msgpack"
  readonly anomalies: ReadonlyArray<Anomaly>
}

/** The reference fleet: 1,000 buses × 2 Hz × 48 fields, JSON lines, one minute. */
export const referenceScenario: Scenario = { devices: 1000, prefix: "bus-", rate: 2, duration: 60, format: "json", anomalies: [] }

/** Reads and checks a scenario; unknown fields of anomalies are errors naming the field. */
export const parseScenario = (text: string, schema: DeviceSchema, source = "scenario"): Scenario => {
  const raw = Schema.decodeUnknownSync(ScenarioFile)(YAML.parse(text) ?? {}, { onExcessProperty: "error" })
  const anomalies = (raw.anomalies ?? []).map((a, i): Anomaly => {
    const f = schema.byName.get(a.field)
    if (!f) throw new Error(`${source}: anomalies[${i}]: unknown field "${a.field}"`)
    return { device: a.device, at: parseDuration(a.at), field: f.index, rampTo: a.ramp_to, over: parseDuration(a.over ?? 0), hold: a.for === undefined ? Infinity : parseDuration(a.for) }
  })
  return {
    devices: raw.devices ?? referenceScenario.devices,
    prefix: raw.prefix ?? referenceScenario.prefix,
    rate: raw.rate ?? referenceScenario.rate,
    duration: raw.duration === undefined ? referenceScenario.duration : parseDuration(raw.duration),
    format: raw.format ?? referenceScenario.format,
    anomalies,
  }
}

export const loadScenario = (path: string, schema: DeviceSchema): Scenario => parseScenario(readFileSync(path, "utf8"), schema, path)

/** Applies the anomalies active at `t` seconds to `row` (which holds the normal value), to 1e-6 (GPS-grade precision). */
export const applyAnomalies = (list: ReadonlyArray<Anomaly>, t: number, row: Float64Array): void => {
  for (const a of list) {
    if (t < a.at || t > a.at + a.over + a.hold) continue
    const base = row[a.field]!
    const k = a.over <= 0 ? 1 : Math.min(1, (t - a.at) / a.over)
    row[a.field] = Math.round((base + (a.rampTo - base) * k) * 1e6) / 1e6
  }
}

/**
 * The next reading of one simulated bus at scenario time `t` seconds: its signals advanced by
 * `dt`, the anomalies active at `t` (this device's), and the bus's physical constraints on what
 * they changed (doors close when an injected speed moves it). The fleet and the quiet-fleet test
 * both use it.
 */
export const nextReading = (sig: BusSignals, anomalies: ReadonlyArray<Anomaly>, t: number, dt: number, row: Float64Array): void => {
  sig.next(dt, row)
  if (anomalies.length === 0) return
  applyAnomalies(anomalies, t, row)
  sig.interlock(row)
}
