/**
 * Plausible city-bus signals for the fleet simulator: a stop-and-go speed profile (dwell at a
 * stop with doors open, accelerate, cruise, brake), engine rpm and gear following speed,
 * temperatures approaching their operating point with first-order inertia, fuel and odometer
 * integrating, GPS moving along a slowly turning heading. Every other schema field walks slowly
 * around a nominal value. Deterministic for a given seed; values always inside the schema ranges.
 */
import type { DeviceSchema } from "../../config/device-schema.ts"

/** A small, fast deterministic PRNG (mulberry32). */
export const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

type Phase = "stop" | "accel" | "cruise" | "brake"

/** Nominal values of the fields without their own model (others default to 30 % of their range). */
const nominal: Record<string, number> = {
  oil_pressure_kpa: 350, intake_air_temp_c: 30, battery_v: 25.4, alternator_v: 27.8, brake_pad_front_mm: 14,
  brake_pad_rear_mm: 16, tire_fl_kpa: 820, tire_fr_kpa: 820, tire_rl_kpa: 820, tire_rr_kpa: 820, gps_alt_m: 120,
  gps_sats: 11, cabin_temp_c: 21, ambient_temp_c: 12, hvac_power_kw: 8, steering_angle_deg: 0, adblue_level_pct: 70,
  dpf_soot_pct: 25, air_tank_kpa: 850, engine_hours: 12000, cellular_rssi_dbm: -75,
}

/**
 * Decimal places each float field is reported with, as a telematics unit on the CAN bus would
 * (J1939-like resolutions): GPS to 1e-6° (≈ 0.1 m; rounding to 0.01° made a bus move in 1.1 km
 * steps and raised `gps_jump` on most of the fleet), odometer to the metre, pressures and
 * temperatures to a tenth; the rest to two places.
 */
export const decimals: Readonly<Record<string, number>> = {
  gps_lat: 6, gps_lon: 6, gps_heading_deg: 1, gps_alt_m: 1, odometer_km: 3, trip_km: 3,
  coolant_temp_c: 1, oil_temp_c: 1, intake_air_temp_c: 1, exhaust_temp_c: 1, cabin_temp_c: 1, ambient_temp_c: 1, transmission_temp_c: 1,
  oil_pressure_kpa: 1, brake_pressure_kpa: 1, tire_fl_kpa: 1, tire_fr_kpa: 1, tire_rl_kpa: 1, tire_rr_kpa: 1, air_tank_kpa: 1,
  fuel_level_pct: 1, engine_hours: 2,
}
const defaultDecimals = 2

/** Fields with their own model in {@link BusSignals}. */
const modelled = ["speed_kmh", "engine_rpm", "engine_load_pct", "throttle_pct", "accel_x_ms2", "accel_y_ms2", "accel_z_ms2", "coolant_temp_c", "oil_temp_c", "transmission_temp_c", "exhaust_temp_c", "fuel_level_pct", "fuel_rate_lph", "odometer_km", "trip_km", "brake_pedal_pct", "brake_pressure_kpa", "gps_lat", "gps_lon", "gps_heading_deg", "door_front_open", "door_middle_open", "passenger_count", "gear", "alternator_v", "engine_hours"] as const

/** Time constant of the pull of generic fields back to nominal, seconds. */
const walkTauS = 600

/** One bus. `next(dt)` advances the simulation by `dt` seconds and fills `row` (schema order). */
export class BusSignals {
  private readonly r: () => number
  private phase: Phase = "stop"
  private phaseLeft: number
  private speed = 0
  private target = 40
  private coolant: number
  private oil: number
  private trans: number
  private exhaust: number
  private fuel: number
  private odo: number
  private trip = 0
  private lat: number
  private lon: number
  private heading: number
  private passengers: number
  /** This bus's usual load on its route: boarding and alighting pull the count back towards it. */
  private readonly usualLoad: number
  private engineHours: number
  private readonly walk: Float64Array
  private readonly nominal: Float64Array
  /** Schema indexes of the door fields. */
  private readonly doors: ReadonlyArray<number>
  /** 10^decimals per field (1 for int and bool fields). */
  private readonly scale: Float64Array
  /** Schema index of each modelled field (-1 when the schema has no such field). */
  private readonly ix: Readonly<Record<(typeof modelled)[number], number>>

  constructor(private readonly schema: DeviceSchema, seed: number) {
    this.r = rng(seed)
    const ambient = 12
    this.coolant = ambient
    this.oil = ambient
    this.trans = ambient
    this.exhaust = ambient
    this.fuel = 40 + this.r() * 60
    this.odo = 100_000 + this.r() * 400_000
    this.lat = 48.1 + this.r() * 0.1
    this.lon = 11.5 + this.r() * 0.1
    this.heading = this.r() * 360
    this.passengers = Math.floor(this.r() * 40)
    this.usualLoad = 10 + this.r() * 40
    this.phaseLeft = 2 + this.r() * 10
    this.nominal = Float64Array.from(schema.fields, (f) => nominal[f.name] ?? (f.kind === "bool" ? 0 : f.min + (f.max - f.min) * 0.3))
    this.walk = this.nominal.slice()
    this.doors = schema.fields.filter((f) => f.name.startsWith("door_")).map((f) => f.index)
    this.scale = Float64Array.from(schema.fields, (f) => (f.kind === "float" ? 10 ** (decimals[f.name] ?? defaultDecimals) : 1))
    this.engineHours = this.walk[schema.byName.get("engine_hours")?.index ?? 0] ?? 0
    this.ix = Object.fromEntries(modelled.map((n) => [n, schema.byName.get(n)?.index ?? -1])) as BusSignals["ix"]
  }

  next(dt: number, row: Float64Array): void {
    const r = this.r
    const prev = this.speed
    this.phaseLeft -= dt
    if (this.phaseLeft <= 0) this.nextPhase()
    if (this.phase === "accel") this.speed = Math.min(this.target, this.speed + 3.6 * 1.1 * dt)
    else if (this.phase === "brake") this.speed = Math.max(0, this.speed - 3.6 * 1.6 * dt)
    else if (this.phase === "cruise") this.speed = Math.max(0, Math.min(80, this.speed + (r() - 0.5) * 2 * dt))
    else this.speed = 0
    if (this.phase === "accel" && this.speed >= this.target) this.setPhase("cruise", 15 + r() * 45)
    if (this.phase === "brake" && this.speed === 0) this.setPhase("stop", 8 + r() * 25)
    const v = this.speed
    const gear = v < 0.5 ? 0 : Math.min(6, 1 + Math.floor(v / 14))
    const rpm = gear === 0 ? 650 + r() * 30 : 900 + ((v - (gear - 1) * 14) / 14) * 900 + r() * 40
    const throttle = this.phase === "accel" ? 65 + r() * 25 : this.phase === "cruise" ? 20 + r() * 15 : 0
    const load = Math.min(100, 10 + throttle * 0.85)
    const braking = this.phase === "brake"
    const lag = (x: number, target: number, tau: number) => x + (target - x) * Math.min(1, dt / tau)
    this.coolant = lag(this.coolant, 86 + load * 0.06, 120)
    this.oil = lag(this.oil, 92 + load * 0.1, 300)
    this.trans = lag(this.trans, 78 + load * 0.08, 400)
    this.exhaust = lag(this.exhaust, 180 + load * 3.5, 20)
    const fuelRate = 2.5 + load * 0.35
    this.fuel = Math.max(0, this.fuel - (fuelRate * dt) / 3600 / 3)
    const km = (v * dt) / 3600
    this.odo += km
    this.trip += km
    this.heading = (this.heading + (r() - 0.5) * 4 * dt + 360) % 360
    const rad = (this.heading * Math.PI) / 180
    this.lat = Math.max(-89, Math.min(89, this.lat + (km / 111) * Math.cos(rad)))
    this.lon = Math.max(-179, Math.min(179, this.lon + (km / 75) * Math.sin(rad)))
    const doors = this.phase === "stop" && this.phaseLeft > 3 ? 1 : 0
    // People board and alight while the doors are open, the count drifting back to the usual load
    // (an unbiased walk with no pull ended up overcrowded after a few minutes).
    if (doors && r() < dt * 0.8) this.passengers = Math.max(0, Math.min(120, this.passengers + Math.round((r() - 0.5) * 4 - (this.passengers - this.usualLoad) * 0.1)))
    this.engineHours += dt / 3600

    // Generic slow walk for everything, pulled back to its nominal value (a healthy sensor hovers
    // around it; a free random walk drifted tyre pressures past the alert limit within an hour),
    // then the modelled fields on top.
    const fields = this.schema.fields
    const pull = Math.min(1, dt / walkTauS)
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!
      if (f.kind === "bool") row[i] = 0
      else {
        const span = f.max - f.min
        const w0 = this.walk[i]!
        const w = Math.max(f.min, Math.min(f.max, w0 + (this.nominal[i]! - w0) * pull + (r() - 0.5) * span * 0.002))
        this.walk[i] = w
        row[i] = Math.round(w * this.scale[i]!) / this.scale[i]!
      }
    }
    const ix = this.ix
    const set = (i: number, x: number) => {
      if (i < 0) return
      const f = fields[i]!
      const c = Math.max(f.min, Math.min(f.max, x))
      row[i] = Math.round(c * this.scale[i]!) / this.scale[i]!
    }
    set(ix.speed_kmh, v)
    set(ix.engine_rpm, rpm)
    set(ix.engine_load_pct, load)
    set(ix.throttle_pct, throttle)
    set(ix.accel_x_ms2, (v - prev) / 3.6 / Math.max(dt, 1e-3))
    set(ix.accel_y_ms2, (r() - 0.5) * 0.6)
    set(ix.accel_z_ms2, 9.81 + (r() - 0.5) * 0.4)
    set(ix.coolant_temp_c, this.coolant)
    set(ix.oil_temp_c, this.oil)
    set(ix.transmission_temp_c, this.trans)
    set(ix.exhaust_temp_c, this.exhaust)
    set(ix.fuel_level_pct, this.fuel)
    set(ix.fuel_rate_lph, fuelRate)
    set(ix.odometer_km, this.odo)
    set(ix.trip_km, this.trip)
    set(ix.brake_pedal_pct, braking ? 30 + r() * 20 : 0)
    set(ix.brake_pressure_kpa, braking ? 300 + r() * 300 : 0)
    set(ix.gps_lat, this.lat)
    set(ix.gps_lon, this.lon)
    set(ix.gps_heading_deg, this.heading)
    set(ix.door_front_open, doors)
    set(ix.door_middle_open, doors)
    set(ix.passenger_count, this.passengers)
    set(ix.gear, gear)
    set(ix.alternator_v, rpm > 600 ? 27.8 : 25)
    set(ix.engine_hours, this.engineHours)
  }

  /**
   * The door interlock of a city bus: it cannot move with a door open (the door brake holds it).
   * Applied after fields were overridden (scenario anomalies): an injected speed on a bus
   * dwelling at a stop closes its doors, instead of a reading no bus can send (which the
   * `door_open_moving` rule rightly flags as critical).
   */
  interlock(row: Float64Array): void {
    const v = this.ix.speed_kmh
    if (v < 0 || !(row[v]! > 0.5)) return
    for (const d of this.doors) row[d] = 0
  }

  private nextPhase(): void {
    const r = this.r
    if (this.phase === "stop") {
      this.target = 25 + r() * 35
      this.setPhase("accel", 60)
    } else if (this.phase === "cruise") this.setPhase("brake", 60)
    else if (this.phase === "accel") this.setPhase("cruise", 20 + r() * 40)
    else this.setPhase("stop", 10 + r() * 20)
  }

  private setPhase(p: Phase, seconds: number): void {
    this.phase = p
    this.phaseLeft = seconds
  }
}
