import { loadDeviceSchema, type DeviceSchema } from "../../config/device-schema.ts"
import { defaultRulesPath, formatIssue, loadRulesFile, type RuleSetPlan } from "../../config/rules/index.ts"
import { makeDeviceKind, RuleSetHolder, type DeviceState } from "../../actors/index.ts"
import type { ActorContext } from "../../runtime/actor-kind.ts"
import { BatchBuilder, type ReadingBatch } from "../../runtime/batch.ts"
import type { Benchmark } from "./index.ts"

/** Typical value and spread of the fields the pack reads; other fields sit at 40 % of their range. */
const typical: Record<string, [number, number]> = {
  speed_kmh: [40, 10], engine_rpm: [1400, 150], engine_load_pct: [45, 5], throttle_pct: [30, 5], accel_x_ms2: [0, 0.6],
  accel_y_ms2: [0, 0.4], accel_z_ms2: [9.8, 0.3], coolant_temp_c: [88, 1], oil_pressure_kpa: [350, 10], exhaust_temp_c: [420, 15],
  fuel_level_pct: [60, 0.1], battery_v: [26.5, 0.1], alternator_v: [27.8, 0.1], tire_fl_kpa: [830, 5], tire_fr_kpa: [830, 5],
  tire_rl_kpa: [830, 5], tire_rr_kpa: [830, 5], brake_pad_front_mm: [12, 0], brake_pad_rear_mm: [12, 0], gps_lat: [52.52, 0.0001],
  gps_lon: [13.4, 0.0001], passenger_count: [35, 3], cabin_temp_c: [22, 0.3], dpf_soot_pct: [30, 0.5], adblue_level_pct: [55, 0.1],
}

/** Readings of `devices` buses at 2 Hz, interleaved as a shard's batches are; every 50th bus runs hot (an open alert). */
const makeBatches = (schema: DeviceSchema, devices: number, perDevice: number): ReadingBatch[] => {
  let seed = 42
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
  const width = schema.fields.length
  const row = new Float64Array(width)
  const t0 = 1_700_000_000_000
  const batches: ReadingBatch[] = []
  for (let k = 0; k < perDevice; k++) {
    const b = new BatchBuilder(width, schema.version, devices)
    for (let d = 0; d < devices; d++) {
      for (let f = 0; f < width; f++) {
        const spec = schema.fields[f]!
        const [mid, spread] = typical[spec.name] ?? [spec.min + (spec.max - spec.min) * 0.4, (spec.max - spec.min) * 0.01]
        const x = mid + spread * (rnd() * 2 - 1)
        row[f] = spec.kind === "bool" ? 0 : spec.kind === "int" ? Math.round(x) : x
      }
      if (d % 50 === 0) row[schema.byName.get("coolant_temp_c")!.index] = 112
      b.push(`bus-${d}`, k + 1, t0 + k * 500 + d, row)
    }
    batches.push(b.take(t0 + k * 500))
  }
  return batches
}

/**
 * Runs `devices` long-lived device actors through `passes` rounds of `perDevice` readings each
 * (the first round warms up: activation, full windows, JIT). Each round continues the devices'
 * streams by shifting seqs and timestamps outside the timed loop. Times are CPU time of this
 * process (the machine is shared; wall time is reported too), median round.
 */
const measure = (schema: DeviceSchema, set: RuleSetPlan, devices: number, perDevice: number, runs: number) => {
  const kind = makeDeviceKind(schema, new RuleSetHolder(set, 1))
  const batches = makeBatches(schema, devices, perDevice)
  let published = 0
  let stored = 0
  const ctx: { -readonly [K in keyof ActorContext]: ActorContext[K] } = {
    now: 0, shard: 0, streamSeq: 0, publish: () => void published++, store: () => void stored++,
  }
  const states = new Map<string, DeviceState>()
  const round = (no: number) => {
    if (no > 0) for (const b of batches) {
      const seqs = b.seqs as Float64Array
      const ts = b.ts as Float64Array
      for (let i = 0; i < seqs.length; i++) { seqs[i] = seqs[i]! + perDevice; ts[i] = ts[i]! + perDevice * 500 }
    }
    const wall0 = performance.now()
    const cpu0 = process.cpuUsage()
    for (const b of batches) {
      ctx.now = b.recvAt + no * perDevice * 500
      for (let i = 0; i < b.ids.length; i++) {
        const id = b.ids[i]!
        let st = states.get(id)
        if (!st) states.set(id, (st = kind.create(id, ctx)))
        kind.onReading(st, b, i, ctx)
      }
    }
    const cpu = process.cpuUsage(cpu0)
    return { wall: performance.now() - wall0, cpu: (cpu.user + cpu.system) / 1000 }
  }
  round(0)
  const times = Array.from({ length: runs }, (_, r) => round(r + 1)).sort((a, b) => a.cpu - b.cpu)
  const mid = times[Math.floor(times.length / 2)]!
  const n = devices * perDevice
  return {
    readings: n,
    readings_per_s_per_core: Math.round((n / mid.cpu) * 1000),
    us_per_reading: Number(((mid.cpu * 1000) / n).toFixed(3)),
    wall_readings_per_s: Math.round((n / mid.wall) * 1000),
    transitions_per_round: Math.round(published / (runs + 1)),
    stored_ok: stored === n * (runs + 1),
    // every reading must have been evaluated, not set aside
    evaluated_ok: kind.metrics.lateDiscarded + kind.metrics.futureDiscarded + kind.metrics.duplicates + kind.metrics.schemaMismatch === 0,
  }
}

/**
 * Device actor throughput with the default rule pack (bus schema, 48 fields): each reading goes
 * through `onReading` (dedup, lateness, 12 shared windows, trackers, all rules) with a no-op sink
 * and a counting publisher, on one core. Headline: 1,000 devices interleaved (state does not fit
 * in cache, as on a real node); also 100 devices (state mostly cache-resident).
 */
const benchmark: Benchmark = {
  description: "device actor: readings/s per core with the default rule pack",
  async run({ runs }) {
    const schema = loadDeviceSchema()
    const loaded = loadRulesFile(defaultRulesPath, schema)
    if (!loaded.ok) throw new TypeError(loaded.issues.map(formatIssue).join("\n"))
    const r = runs ?? 5
    process.stderr.write("rules bench: 1000 devices ...\n")
    const many = measure(schema, loaded.plan, 1000, 400, r)
    process.stderr.write("rules bench: 100 devices ...\n")
    const few = measure(schema, loaded.plan, 100, 4000, r)
    return {
      rules: loaded.plan.rules.length,
      fields: schema.fields.length,
      windows: loaded.plan.windows.length,
      devices: 1000,
      ...many,
      devices_100_readings_per_s_per_core: few.readings_per_s_per_core,
      devices_100_us_per_reading: few.us_per_reading,
    }
  },
}
export default benchmark
