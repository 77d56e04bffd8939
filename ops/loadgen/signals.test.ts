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
})
