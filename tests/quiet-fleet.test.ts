/**
 * The quiet fleet: the reference fleet (1,000 buses × 48 fields × 2 Hz) from the simulator's own
 * signal generator, through the device actor on the default rule pack, in simulated time (a fake
 * clock, no processes). With no anomalies it must raise nothing; with a scenario it must raise
 * exactly what the scenario injects. Every alert a demo shows is then explained by its scenario.
 */
import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { busSchema, compileOrFail, RecordingContext } from "../actors/device/testing.ts"
import { makeDeviceKind, RuleSetHolder } from "../actors/index.ts"
import { defaultRulesPath } from "../config/rules/index.ts"
import { fleetIds } from "../ops/certs/pki.ts"
import { loadScenario, nextReading, referenceScenario, type Scenario } from "../ops/loadgen/scenario.ts"
import { BusSignals } from "../ops/loadgen/signals.ts"
import { BatchBuilder } from "../runtime/batch.ts"

const root = join(import.meta.dir, "..")
const t0 = 1_700_000_000_000

/**
 * Runs `sc`'s fleet for `seconds` of simulated time the way `ops loadgen` generates it (device i
 * seeded i + 1, one reading per 1/rate s, anomalies at scenario time) and feeds every reading to
 * the device actor on the default pack, with a timer tick every simulated second. Returns the
 * published alert transitions as `device rule kind severity` lines.
 */
const simulate = (sc: Scenario, seconds: number) => {
  const kind = makeDeviceKind(busSchema, new RuleSetHolder(compileOrFail(readFileSync(defaultRulesPath, "utf8")), 1))
  const ctx = new RecordingContext()
  ctx.now = t0
  const ids = fleetIds(sc.devices, sc.prefix)
  const signals = ids.map((_, i) => new BusSignals(busSchema, i + 1))
  const anomalies = ids.map((id) => sc.anomalies.filter((a) => a.device === id))
  const states = ids.map((id) => kind.create(id, ctx))
  const width = busSchema.fields.length
  const row = new Float64Array(width)
  const dt = 1 / sc.rate
  const b = new BatchBuilder(width, ids.length)
  let nextTick = 1
  for (let k = 1; k * dt <= seconds + 1e-9; k++) {
    const t = k * dt
    for (let d = 0; d < ids.length; d++) {
      nextReading(signals[d]!, anomalies[d]!, t, dt, row)
      b.push(ids[d]!, k, t0 + t * 1000, row)
    }
    ctx.now = t0 + t * 1000
    const batch = b.take(ctx.now)
    for (let d = 0; d < ids.length; d++) kind.onReading(states[d]!, batch, d, ctx)
    if (t >= nextTick) {
      for (const st of states) kind.onTick!(st, ctx)
      nextTick++
    }
  }
  expect(kind.metrics.readings).toBe(ids.length * Math.round(seconds * sc.rate))
  return ctx.published.map(({ payload: p }) => `${p.device} ${p.rule} ${p.kind} ${p.severity}`)
}

describe("quiet fleet", () => {
  test("the reference fleet with no anomalies raises no alert in 10 simulated minutes under the default pack", () => {
    expect(referenceScenario).toMatchObject({ devices: 1000, rate: 2, anomalies: [] })
    expect(busSchema.fields.length).toBe(48)
    expect(simulate(referenceScenario, 600)).toEqual([])
  }, 120_000)

  test("overheat.yaml raises exactly the alerts it injects", () => {
    const sc = loadScenario(join(root, "ops/loadgen/scenarios/overheat.yaml"), busSchema)
    // bus-0007 at 95 km/h from 60 s to 85 s: speeding (80) for 5 s, cleared once back under 75 for
    // 5 s (20 s is too short to escalate). bus-0042's coolant ramps to 125 °C from 120 s and stays:
    // overheating after 30 s, escalated to critical 2 min later. Nothing else.
    expect(simulate(sc, sc.duration)).toEqual([
      "bus-0007 speeding raised warning",
      "bus-0007 speeding cleared warning",
      "bus-0042 overheating raised warning",
      "bus-0042 overheating escalated critical",
    ])
  }, 120_000)
})
