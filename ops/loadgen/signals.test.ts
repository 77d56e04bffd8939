import { describe, expect, test } from "bun:test"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { BusSignals } from "./signals.ts"

const schema = loadDeviceSchema()
const idx = (n: string) => schema.byName.get(n)!.index

describe("BusSignals", () => {
  test("every value of a simulated hour stays inside the schema ranges and kinds", () => {
    const sig = new BusSignals(schema, 7)
    const row = new Float64Array(schema.fields.length)
    for (let i = 0; i < 7200; i++) {
      sig.next(0.5, row)
      for (const f of schema.fields) {
        const v = row[f.index]!
        if (!(v >= f.min && v <= f.max)) throw new Error(`${f.name}=${v} outside [${f.min}, ${f.max}] at step ${i}`)
        if (f.kind !== "float" && !Number.isInteger(v)) throw new Error(`${f.name}=${v} is not ${f.kind}`)
      }
    }
  })

  test("buses stop and go; rpm follows speed; coolant warms up with inertia", () => {
    const sig = new BusSignals(schema, 3)
    const row = new Float64Array(schema.fields.length)
    const speeds: number[] = []
    const coolant: number[] = []
    let idleRpmWhenStopped = true
    for (let i = 0; i < 1200; i++) {
      sig.next(0.5, row)
      speeds.push(row[idx("speed_kmh")]!)
      coolant.push(row[idx("coolant_temp_c")]!)
      if (row[idx("speed_kmh")] === 0 && row[idx("engine_rpm")]! > 700) idleRpmWhenStopped = false
    }
    expect(Math.max(...speeds)).toBeGreaterThan(20)
    expect(speeds.filter((v) => v === 0).length).toBeGreaterThan(20)
    expect(idleRpmWhenStopped).toBe(true)
    // Inertia: no jump larger than a few degrees per step, and warmer after 10 minutes.
    for (let i = 1; i < coolant.length; i++) expect(Math.abs(coolant[i]! - coolant[i - 1]!)).toBeLessThan(2)
    expect(coolant.at(-1)! - coolant[0]!).toBeGreaterThan(30)
  })

  test("the same seed gives the same signals", () => {
    const a = new Float64Array(schema.fields.length)
    const b = new Float64Array(schema.fields.length)
    const s1 = new BusSignals(schema, 11)
    const s2 = new BusSignals(schema, 11)
    for (let i = 0; i < 50; i++) {
      s1.next(0.5, a)
      s2.next(0.5, b)
    }
    expect(Array.from(a)).toEqual(Array.from(b))
  })

  test("GPS moves at sensor resolution: a bus at city speed moves metres per reading, never a rounding step", () => {
    const sig = new BusSignals(schema, 5)
    const row = new Float64Array(schema.fields.length)
    let prev: [number, number] | undefined
    let moving = 0
    for (let i = 0; i < 2400; i++) {
      sig.next(0.5, row)
      const lat = row[idx("gps_lat")]!
      const lon = row[idx("gps_lon")]!
      expect(Math.round(lat * 1e6) / 1e6).toBe(lat)
      if (prev) {
        // metres between fixes (equirectangular is exact enough at this scale)
        const m = Math.hypot((lat - prev[0]) * 111_320, (lon - prev[1]) * 111_320 * Math.cos((lat * Math.PI) / 180))
        const kmh = row[idx("speed_kmh")]!
        expect(m).toBeLessThan(kmh / 3.6 * 0.5 + 1) // distance at the reported speed, plus a 0.1 m grid
        if (m > 0) moving++
      }
      prev = [lat, lon]
    }
    expect(moving).toBeGreaterThan(1000)
  })

  test("over 2 simulated hours no field drifts to an alert limit: passengers stay near the usual load, tyres near nominal", () => {
    const row = new Float64Array(schema.fields.length)
    for (const seed of [1, 2, 3, 4]) {
      const sig = new BusSignals(schema, seed)
      let maxPassengers = 0
      let minTire = Infinity
      for (let i = 0; i < 14_400; i++) {
        sig.next(0.5, row)
        maxPassengers = Math.max(maxPassengers, row[idx("passenger_count")]!)
        minTire = Math.min(minTire, row[idx("tire_fl_kpa")]!, row[idx("tire_rr_kpa")]!)
        if (row[idx("speed_kmh")]! > 5 && row[idx("door_front_open")]! + row[idx("door_middle_open")]! > 0) throw new Error(`seed ${seed}: doors open while moving at step ${i}`)
      }
      expect(maxPassengers).toBeLessThan(80) // default pack: overcrowded above 90
      expect(minTire).toBeGreaterThan(760) // default pack: under 700 kPa
    }
  })
})
