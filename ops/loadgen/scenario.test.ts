import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { latencyQuantile, newLinkStats } from "./link.ts"
import { applyAnomalies, nextReading, parseDuration, parseScenario, referenceScenario } from "./scenario.ts"
import { BusSignals } from "./signals.ts"

const schema = loadDeviceSchema()

describe("scenario", () => {
  test("the default is the reference fleet: 1,000 buses × 2 Hz", () => {
    expect([referenceScenario.devices, referenceScenario.rate]).toEqual([1000, 2])
  })

  test("parses the bundled overheat scenario", () => {
    const sc = parseScenario(readFileSync(join(import.meta.dir, "scenarios", "overheat.yaml"), "utf8"), schema)
    expect(sc.duration).toBe(300)
    expect(sc.anomalies[0]).toEqual({ device: "bus-0042", at: 120, field: schema.byName.get("coolant_temp_c")!.index, rampTo: 125, over: 30, hold: Infinity })
  })

  test("an anomaly on an unknown field is an error naming it", () => {
    expect(() => parseScenario("anomalies: [{device: bus-1, at: 1s, field: warp, ramp_to: 1}]", schema)).toThrow(/unknown field "warp"/)
  })

  test("durations", () => {
    expect([parseDuration("120s"), parseDuration("2m"), parseDuration("500ms"), parseDuration(3)]).toEqual([120, 120, 0.5, 3])
    expect(() => parseDuration("soon")).toThrow()
  })

  test("a ramp reaches its target linearly over `over`, then holds for `for`", () => {
    const sc = parseScenario("anomalies: [{device: d, at: 10s, field: coolant_temp_c, ramp_to: 120, over: 10s, for: 5s}]", schema)
    const i = schema.byName.get("coolant_temp_c")!.index
    const at = (t: number) => {
      const row = new Float64Array(schema.fields.length).fill(80)
      applyAnomalies(sc.anomalies, t, row)
      return row[i]
    }
    expect([at(5), at(10), at(15), at(20), at(25), at(26)]).toEqual([80, 80, 100, 120, 120, 80])
  })
})

describe("latency histogram", () => {
  test("quantiles come from ~10 % buckets", () => {
    const s = newLinkStats()
    s.latency[0] = 50 // < 1 ms
    s.latency[25] = 49 // ≈ 10.8 ms
    s.latency[50] = 1 // ≈ 117 ms
    expect(latencyQuantile(s.latency, 0.5)).toBe(1)
    expect(latencyQuantile(s.latency, 0.9)).toBeCloseTo(1.1 ** 25, 0)
    expect(latencyQuantile(s.latency, 0.999)).toBeCloseTo(1.1 ** 50, -1)
  })
})

describe("anomalies on a simulated bus", () => {
  test("an injected speed never makes a bus dwelling at a stop send doors open above walking pace (door interlock)", () => {
    // overheat.yaml's speed anomaly, put on 300 buses: many are at a stop with doors open at 60 s.
    const sc = parseScenario("anomalies:\n  - { device: any, at: 60s, field: speed_kmh, ramp_to: 95, over: 5s, for: 20s }\n", schema)
    const at = (n: string) => schema.byName.get(n)!.index
    const row = new Float64Array(schema.fields.length)
    let injectedAtStop = 0
    for (let d = 0; d < 300; d++) {
      const sig = new BusSignals(schema, d + 1)
      for (let k = 1; k <= 180; k++) {
        const t = k * 0.5
        nextReading(sig, sc.anomalies, t, 0.5, row)
        const open = row[at("door_front_open")]! + row[at("door_middle_open")]! + row[at("door_rear_open")]!
        if (row[at("speed_kmh")]! > 5 && open > 0) throw new Error(`bus ${d + 1} at ${t} s: doors open at ${row[at("speed_kmh")]} km/h`)
        // idle rpm: the model has the bus standing (at a stop, doors open) while its speed is injected
        if (t > 60 && t < 61 && row[at("engine_rpm")]! < 700) injectedAtStop++
      }
    }
    expect(injectedAtStop).toBeGreaterThan(15)
  })
})
