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
  private readonly walk: Float64Array
  private readonly idx: (name: string) => number

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
    this.phaseLeft = 2 + this.r() * 10
    this.walk = Float64Array.from(schema.fields, (f) => nominal[f.name] ?? (f.kind === "bool" ? 0 : f.min + (f.max - f.min) * 0.3))
    const byName = schema.byName
    this.idx = (n) => byName.get(n)?.index ?? -1
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
    if (doors && r() < dt * 0.8) this.passengers = Math.max(0, Math.min(120, this.passengers + Math.round((r() - 0.45) * 4)))

    // Generic slow walk for everything, then the modelled fields on top.
    const fields = this.schema.fields
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!
      if (f.kind === "bool") row[i] = 0
      else {
        const span = f.max - f.min
        const w = Math.max(f.min, Math.min(f.max, this.walk[i]! + (r() - 0.5) * span * 0.002))
        this.walk[i] = w
        row[i] = f.kind === "int" ? Math.round(w) : Math.round(w * 100) / 100
      }
    }
    const set = (name: string, x: number) => {
      const i = this.idx(name)
      if (i >= 0) {
        const f = fields[i]!
        const c = Math.max(f.min, Math.min(f.max, x))
        row[i] = f.kind === "float" ? Math.round(c * 100) / 100 : Math.round(c)
      }
    }
    set("speed_kmh", v)
    set("engine_rpm", rpm)
    set("engine_load_pct", load)
    set("throttle_pct", throttle)
    set("accel_x_ms2", (v - prev) / 3.6 / Math.max(dt, 1e-3))
    set("accel_y_ms2", (r() - 0.5) * 0.6)
    set("accel_z_ms2", 9.81 + (r() - 0.5) * 0.4)
    set("coolant_temp_c", this.coolant)
    set("oil_temp_c", this.oil)
    set("transmission_temp_c", this.trans)
    set("exhaust_temp_c", this.exhaust)
    set("fuel_level_pct", this.fuel)
    set("fuel_rate_lph", fuelRate)
    set("odometer_km", this.odo)
    set("trip_km", this.trip)
    set("brake_pedal_pct", braking ? 30 + r() * 20 : 0)
    set("brake_pressure_kpa", braking ? 300 + r() * 300 : 0)
    set("gps_lat", this.lat)
    set("gps_lon", this.lon)
    set("gps_heading_deg", this.heading)
    set("door_front_open", doors)
    set("door_middle_open", doors)
    set("passenger_count", this.passengers)
    set("gear", gear)
    set("alternator_v", rpm > 600 ? 27.8 : 25)
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
