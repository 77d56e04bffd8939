import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { defaultRulesPath, show, type RuleSetPlan } from "../../../config/rules/index.ts"
import { fnv1a32 } from "../../../runtime/shard.ts"
import { compileOrFail, Device } from "../testing.ts"
import { linkRuleSet } from "./link.ts"

const pack = compileOrFail(readFileSync(defaultRulesPath, "utf8"))

/** Every value reachable from `x` that is a function, by path. */
const functionsIn = (x: unknown, path = "plan"): string[] =>
  typeof x === "function" ? [path]
  : x && typeof x === "object" ? Object.entries(x).flatMap(([k, v]) => functionsIn(v, `${path}.${k}`))
  : []

describe("rule set plan → engine", () => {
  test("a plan is plain data: nothing in it runs, and a structured clone of it links to the same behaviour", () => {
    expect(functionsIn(pack)).toEqual([])
    const clone = structuredClone(pack) as RuleSetPlan
    const values = (at: number) => ({ coolant_temp_c: at > 20 && at < 90 ? 112 : 90, speed_kmh: 60 + (at % 40), accel_x_ms2: at % 17 === 0 ? -6 : 0, door_front_open: at % 17 === 2 ? 1 : 0 })
    const a = new Device(pack, "bus-0007").series(0, 120, 0.5, values).tickUntil(240)
    const b = new Device(clone, "bus-0007").series(0, 120, 0.5, values).tickUntil(240)
    expect(a.lines().length).toBeGreaterThan(3)
    expect(b.lines()).toEqual(a.lines())
    expect(b.kind.query(b.state, {})).toEqual(a.kind.query(a.state, {}))
  })

  test("linking keeps every plan field and adds the functions", () => {
    const set = linkRuleSet(pack)
    for (const [k, v] of Object.entries(pack)) if (k !== "rules") expect((set as unknown as Record<string, unknown>)[k]).toBe(v)
    set.rules.forEach((r, i) => {
      expect(r.identity).toBe(pack.rules[i]!.identity)
      expect(typeof r.when).toBe("function")
      expect(r.clear === undefined).toBe(pack.rules[i]!.clearCode === undefined)
    })
    expect(set.bind("bus-ic-7").params[pack.paramNames.indexOf("max_speed_kmh")]).toBe(100)
  })

  test("rule identities hash with the shard function's FNV-1a, as the checkpoints written before hold them", () => {
    for (const r of pack.rules) {
      const s = r.spec
      const text = [show(s.when), s.forMs, s.clear ? show(s.clear) : "", s.clearForMs, s.severity, s.escalate.map((e) => `${e.afterMs}:${e.severity}`).join(",")].join("|")
      expect(r.identity).toBe(`${s.name}#${fnv1a32(text).toString(16)}`)
    }
  })
})
