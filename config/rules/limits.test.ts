import { describe, expect, test } from "bun:test"
import { loadDeviceSchema } from "../device-schema.ts"
import { defaultRuleLimits } from "./limits.ts"
import { compileRules, loadRulesFile } from "./load.ts"
import { defaultRulesPath } from "./paths.ts"
import { formatIssue } from "./spec.ts"

const schema = loadDeviceSchema()
const refused = (source: string, limits = defaultRuleLimits) => {
  const r = compileRules(source, "limits.yaml", schema, limits)
  if (r.ok) throw new Error("the rule set was accepted")
  return r.issues.map(formatIssue)
}

describe("rule limits", () => {
  test("10,000 nested parentheses are refused at their position instead of overflowing the stack", () => {
    const n = 10_000
    const issues = refused(`rules:\n  deep:\n    when: ${"(".repeat(n)}speed_kmh > 1${")".repeat(n)}\n`)
    // The 65th "(" opens level 65: column 11 is the first one.
    expect(issues).toEqual([`limits.yaml:3:${11 + 64}: expression nests deeper than 64 levels; split it into simpler rules`])
  })

  test("a long chain of operators is refused by depth too (the checker and compiler recurse over it)", () => {
    const terms = Array.from({ length: 20_000 }, () => "speed_kmh").join(" + ")
    const issues = refused(`rules:\n  long:\n    when: ${terms} > 1\n`)
    expect(issues).toHaveLength(1)
    expect(issues[0]).toMatch(/^limits\.yaml:3:\d+: expression nests deeper than 64 levels \(rules\.maxExprDepth\)/)
  })

  test("stacked prefix operators count as nesting", () => {
    expect(refused(`rules:\n  nots:\n    when: ${"not ".repeat(5_000)}(speed_kmh > 1)\n`)[0]).toContain("nests deeper than 64 levels")
  })

  test("an expression at the depth limit is accepted", () => {
    const ok = compileRules(`rules:\n  d:\n    when: ${"(".repeat(60)}speed_kmh > 1${")".repeat(60)}\n`, "ok.yaml", schema)
    expect(ok.ok).toBe(true)
  })

  test("more rules than rules.maxRules are refused at the first rule over the limit", () => {
    const rule = (i: number) => `  r${i}:\n    when: speed_kmh > ${i}\n`
    const source = `rules:\n${Array.from({ length: 5 }, (_, i) => rule(i)).join("")}`
    expect(compileRules(source, "n.yaml", schema, { ...defaultRuleLimits, maxRules: 5 }).ok).toBe(true)
    const six = `rules:\n${Array.from({ length: 6 }, (_, i) => rule(i)).join("")}`
    // rule r5 starts on line 2 + 5 * 2
    expect(refused(six, { ...defaultRuleLimits, maxRules: 5 })).toEqual(["limits.yaml:12:3: more than 5 rules (rules.maxRules); every rule runs on every reading"])
  })

  test("windows that would hold too much per device are refused at the longest window, with the figures", () => {
    const source = "rules:\n  slow:\n    when: avg(engine_rpm, 10s) > 1 and max(coolant_temp_c, 30m) > 100\n"
    const issues = refused(source)
    expect(issues).toHaveLength(1)
    // max( starts at column 40
    expect(issues[0]).toMatch(/^limits\.yaml:3:40: the rule set's windows need \d+ KiB per device at 50 readings\/s, over the limit of 1024 KiB \(rules\.maxWindowBytesPerDevice\); the longest, max\(coolant_temp_c, 30m\), holds 90000 readings per device$/)
    // The same window is fine when the devices are limited to a slower rate and the limit is raised.
    expect(compileRules(source, "ok.yaml", schema, { ...defaultRuleLimits, maxReadingsPerSec: 1, maxWindowBytesPerDevice: 64 << 20 }).ok).toBe(true)
  })

  test("the default pack fits the default limits", () => {
    expect(loadRulesFile(defaultRulesPath, schema).ok).toBe(true)
  })
})
