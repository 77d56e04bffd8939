import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { defaultRulesPath } from "../../config/rules/index.ts"
import { compileOrFail, Device } from "./testing.ts"

const pack = compileOrFail(readFileSync(defaultRulesPath, "utf8"))

/** A healthy city bus in service: every field the pack reads, at ordinary values. */
const healthy: Record<string, number> = {
  speed_kmh: 40, engine_rpm: 1400, engine_load_pct: 45, throttle_pct: 30, accel_x_ms2: 0, accel_y_ms2: 0, accel_z_ms2: 9.8,
  coolant_temp_c: 88, oil_temp_c: 95, oil_pressure_kpa: 350, exhaust_temp_c: 420, fuel_level_pct: 60, battery_v: 26.5,
  alternator_v: 27.8, brake_pad_front_mm: 12, brake_pad_rear_mm: 12, tire_fl_kpa: 830, tire_fr_kpa: 830, tire_rl_kpa: 830,
  tire_rr_kpa: 830, gps_lat: 52.52, gps_lon: 13.4, door_front_open: 0, door_middle_open: 0, door_rear_open: 0,
  passenger_count: 35, cabin_temp_c: 22, dpf_soot_pct: 30, adblue_level_pct: 55,
}
/** Sensors drift a little (a constant coolant reading would be a stuck sensor). */
const live = (at: number, over: Record<string, number> = {}) => ({ coolant_temp_c: 88 + (at % 3) * 0.1, gps_lat: 52.52 + at * 1e-5, ...over })
const bus = (id = "bus-1") => new Device(pack, id, healthy)

describe("default rule pack on a simulated bus", () => {
  test("a healthy bus in service raises nothing over 15 minutes", () => {
    expect(bus().series(0, 900, 0.5, (at) => live(at)).lines()).toEqual([])
  })

  test("uneconomic driving: high rpm at crawling speed over 10 s", () => {
    const d = bus().series(0, 60, 1, (at) => live(at)).series(61, 90, 1, (at) => live(at, { engine_rpm: 2000, speed_kmh: 10 }))
    expect(d.lines()).toEqual(["raised info uneconomic_driving @67"])
  })

  test("door open while moving is critical and clears when the door closes", () => {
    const d = bus().series(0, 60, 1, (at) => live(at)).read([{ at: 61, values: live(61, { door_middle_open: 1 }) }, { at: 62, values: live(62) }])
    expect(d.lines()).toEqual(["raised critical door_open_moving @61", "cleared critical door_open_moving @62"])
  })

  test("speeding uses the group's limit: 95 km/h is fine for an intercity bus, not for a city bus", () => {
    const run = (id: string) => bus(id).series(0, 30, 1, (at) => live(at)).series(31, 110, 1, (at) => live(at, { speed_kmh: 95 })).lines()
    expect(run("bus-ic-4")).toEqual([])
    expect(run("bus-1")).toEqual(["raised warning speeding @36", "escalated critical speeding @96"])
  })

  test("a silent device raises device_silent from timer ticks and clears when it reports again", () => {
    const d = bus().series(0, 30, 1, (at) => live(at))
    d.tickUntil(100)
    d.read([{ at: 100, values: live(100) }])
    expect(d.lines()).toEqual(["raised warning device_silent @90", "cleared warning device_silent @100"])
  })

  test("overheating holds 30 s before raising, escalates after 2 min, and clears only 5 °C below the limit for 20 s", () => {
    const d = bus()
      .series(0, 30, 1, (at) => live(at))
      .series(31, 120, 1, (at) => live(at, { coolant_temp_c: 110 + (at % 2) * 0.1 }))
      .series(121, 180, 1, (at) => live(at, { coolant_temp_c: 102 + (at % 2) * 0.1 }))
      .series(181, 240, 1, (at) => live(at))
    // 10 s average passes 105 at 38 (+30 s → 68); 102 °C is inside the band, so it stays open and
    // escalates at 68 + 120; the average falls below 100 at 182 and holds 20 s → 202.
    expect(d.lines()).toEqual(["raised warning overheating @68", "escalated critical overheating @188", "cleared critical overheating @202"])
  })

  test("harsh braking followed by a door opening flags a possible incident", () => {
    const d = bus().series(0, 30, 1, (at) => live(at)).read([
      { at: 31, values: live(31, { accel_x_ms2: -5 }) },
      { at: 32, values: live(32, { speed_kmh: 0 }) },
      { at: 40, values: live(40, { speed_kmh: 0, door_front_open: 1 }) },
      { at: 50, values: live(50, { speed_kmh: 0 }) },
    ])
    expect(d.lines()).toEqual([
      "raised info harsh_braking @31", "cleared info harsh_braking @32",
      "raised warning brake_then_door @40", "cleared warning brake_then_door @50",
    ])
  })

  test("a GPS fix 5 km away within a second is a jump", () => {
    const d = bus().series(0, 30, 1, (at) => live(at)).read([{ at: 31, values: live(31, { gps_lat: 52.57 }) }])
    expect(d.lines()).toEqual(["raised info gps_jump @31"])
  })
})

describe("hot swap with the default pack", () => {
  test("swapping to a recompiled identical pack mid-stream changes nothing; a changed parameter keeps every alert", () => {
    const script = (d: Device) =>
      d.series(0, 30, 1, (at) => live(at))
        .series(31, 100, 1, (at) => live(at, { coolant_temp_c: 110, engine_rpm: 2000, speed_kmh: 10 }))
    const plain = script(bus()).series(101, 200, 1, (at) => live(at, { coolant_temp_c: 110, speed_kmh: 10, engine_rpm: 2000 }))
    const swapped = script(bus())
    swapped.holder.swap(compileOrFail(readFileSync(defaultRulesPath, "utf8")), 2)
    swapped.series(101, 150, 1, (at) => live(at, { coolant_temp_c: 110, speed_kmh: 10, engine_rpm: 2000 }))
    // v3 only changes the speed limit parameter: no rule's identity changes.
    swapped.holder.swap(compileOrFail(readFileSync(defaultRulesPath, "utf8").replace("max_speed_kmh: 80", "max_speed_kmh: 70")), 3)
    swapped.series(151, 200, 1, (at) => live(at, { coolant_temp_c: 110, speed_kmh: 10, engine_rpm: 2000 }))
    expect(swapped.lines()).toEqual(plain.lines())
    expect(swapped.kind.metrics.clearedByReload).toBe(0)
    expect(swapped.kind.metrics.migrations).toBe(2)
    expect(swapped.ctx.published.at(-1)!.payload.ruleVersion).toBe(3)
  })
})
