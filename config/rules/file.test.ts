import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { loadDeviceSchema } from "../device-schema.ts"
import { compileRules } from "./load.ts"
import { parseRules } from "./file.ts"
import { defaultRulesPath } from "./paths.ts"
import { formatIssue } from "./spec.ts"

const schema = loadDeviceSchema()
const issues = (src: string) => {
  const r = parseRules(src, "r.yaml", schema)
  return r.issues.map(formatIssue)
}
const rule = (body: string, head = "params: { limit: 80 }\ngroups:\n  mini: { match: \"mini-*\", params: { limit: 30 } }\n") => `${head}rules:\n  r:\n${body}`

describe("rules file: every construct is accepted", () => {
  test.each([
    ["threshold and arithmetic", "    when: speed_kmh * 1.1 + 2 > $limit - 1"],
    ["boolean logic over yes/no fields", "    when: (door_front_open or not door_rear_open) and speed_kmh > 5"],
    ...["avg", "min", "max", "sum", "count", "stddev", "first", "last", "delta", "rate", "zscore"].map((f) => [`window ${f}`, `    when: ${f}(engine_rpm, 10s) > 1`]),
    ["EWMA and its deviation", "    when: ewma(engine_load_pct, 30s) > 50 or abs(ewma_z(engine_load_pct, 30s)) > 3"],
    ["for and a separate clear condition with clear_for", "    when: speed_kmh > 80\n    for: 30s\n    clear: speed_kmh < 75\n    clear_for: 10s"],
    ["escalation steps", "    when: speed_kmh > 80\n    severity: info\n    escalate:\n      - { after: 1m, severity: warning }\n      - { after: 5m, severity: critical }"],
    ["absence of readings", "    when: absent(60s)"],
    ["no change of a field", "    when: unchanged(coolant_temp_c, 10m)"],
    ["sequence", "    when: accel_x_ms2 < -4 then door_front_open within 30s"],
    ["previous value, elapsed time, geo distance", "    when: haversine(prev(gps_lat), prev(gps_lon), gps_lat, gps_lon) / greatest(elapsed(), 0.5) > 70"],
    ["missing field, math", "    when: missing(speed_kmh) or sqrt(least(1, 2)) > 0"],
    ["severity, channels, throttle, groups, description", "    description: test\n    when: speed_kmh > $limit\n    severity: critical\n    channels: [sms, email]\n    throttle: 10m\n    groups: [mini]"],
    ["multi-line block expression", "    when: |\n      speed_kmh > 80\n        and engine_rpm > 100"],
  ])("%s", (_name, body) => expect(issues(rule(body))).toEqual([]))

  test("the default bus pack compiles with 20+ rules, each with a description", () => {
    const r = compileRules(readFileSync(defaultRulesPath, "utf8"), "default", schema)
    if (!r.ok) throw new TypeError(r.issues.map(formatIssue).join("\n"))
    expect(r.plan.rules.length).toBeGreaterThanOrEqual(20)
    for (const x of r.plan.rules) expect(x.spec.description.length).toBeGreaterThan(10)
    // windows are shared: uneconomic_driving and overheating etc. reuse (field, duration) pairs
    expect(new Set(r.plan.windows.map((w) => w.key)).size).toBe(r.plan.windows.length)
  })
})

describe("rules file: errors point at file:line:col with a useful message", () => {
  test.each([
    ["unknown field with a suggestion", rule("    when: avg(engine_rmp, 10s) > 1"), `r.yaml:6:15: unknown field "engine_rmp" (did you mean "engine_rpm"?)`],
    ["unknown function with a suggestion", rule("    when: avrg(engine_rpm, 10s) > 1"), `r.yaml:6:11: unknown function "avrg" (did you mean "avg"?)`],
    ["unknown parameter", rule("    when: speed_kmh > $limt"), `r.yaml:6:23: unknown parameter "$limt" (did you mean "limit"?)`],
    ["parameter written as a field", rule("    when: speed_kmh > limit"), `r.yaml:6:23: unknown field "limit"; parameters are written $limit`],
    ["duration missing a unit in a function", rule("    when: avg(engine_rpm, 10) > 1"), `r.yaml:6:27: duration 10 is missing a unit; write 10s`],
    ["duration missing a unit in for:", rule("    when: speed_kmh > 1\n    for: 30"), `r.yaml:7:10: for: duration 30 is missing a unit; write 30s`],
    ["unknown duration unit", rule("    when: speed_kmh > 1\n    for: 30 sec"), `r.yaml:7:10: for: unknown duration unit "sec"`],
    ["wrong argument kind", rule("    when: avg(speed_kmh + 1, 10s) > 1"), `r.yaml:6:15: argument 1 of avg must be a field name: avg(field, duration)`],
    ["wrong arity", rule("    when: avg(speed_kmh) > 1"), `r.yaml:6:11: avg takes 2 arguments: avg(field, duration)`],
    ["number where a condition is needed", rule("    when: speed_kmh and engine_rpm > 1"), `r.yaml:6:11: "and" needs a yes/no condition, but this is a number`],
    ["yes/no field compared with a number", rule("    when: door_front_open == 1"), `r.yaml:6:27: door_front_open is a yes/no field; write door_front_open or not door_front_open`],
    ["yes/no field in arithmetic", rule("    when: door_front_open + 1 > 1"), `r.yaml:6:11: door_front_open is a yes/no field`],
    ["when is not a condition", rule("    when: speed_kmh + 1"), `r.yaml:6:11: rule r when must be a condition (yes/no), but this is a number`],
    ["function used as a field", rule("    when: avg > 1"), `r.yaml:6:11: avg is a function; call it as avg(...)`],
    ["window too long", rule("    when: avg(speed_kmh, 2h) > 1"), `r.yaml:6:26: window 2h is longer than the 1h limit`],
    ["sequence without a duration", rule("    when: speed_kmh > 1 then door_front_open within 5"), `r.yaml:6:53: duration 5 is missing a unit; write within 5s`],
    ["syntax error inside a quoted expression", rule(`    when: "speed_kmh >> 1"`), `r.yaml:6:23: expected a value but found ">"`],
    ["syntax error inside a block expression", rule("    when: |\n      speed_kmh > 1 and\n        engine_rpm = 2"), `r.yaml:8:20: "=" is not an operator`],
    ["unknown rule key", rule("    when: speed_kmh > 1\n    sevrity: info"), `r.yaml:7:5: unknown key "sevrity" in rule r (did you mean "severity"?)`],
    ["unknown severity", rule("    when: speed_kmh > 1\n    severity: critcal"), `r.yaml:7:15: unknown severity "critcal" (did you mean "critical"?)`],
    ["escalation that does not raise severity", rule("    when: speed_kmh > 1\n    severity: critical\n    escalate: [{ after: 1m, severity: warning }]"), `escalation must raise the severity above critical`],
    ["escalation without after", rule("    when: speed_kmh > 1\n    escalate: [{ severity: critical }]"), `escalation step needs after:`],
    ["missing when", rule("    severity: info"), `r.yaml:5:3: rule r has no when: condition`],
    ["unknown group in a rule", rule("    when: speed_kmh > 1\n    groups: [minni]"), `rule r names unknown group "minni" (did you mean "mini"?)`],
    ["group overriding an undeclared parameter", "params: { limit: 1 }\ngroups:\n  g: { match: x, params: { limt: 2 } }\nrules:\n  r:\n    when: speed_kmh > 1\n", `r.yaml:3:28: group g overrides unknown parameter "limt" (did you mean "limit"?)`],
    ["non-numeric parameter", "params: { limit: high }\nrules:\n  r:\n    when: speed_kmh > 1\n", `r.yaml:1:18: parameter limit must be a number`],
    ["unknown top-level key", "rule:\n  r:\n    when: speed_kmh > 1\n", `r.yaml:1:1: unknown key "rule" in the rules file (did you mean "rules"?)`],
    ["wrong schema", "schema: truck\nrules:\n  r:\n    when: speed_kmh > 1\n", `r.yaml:1:9: rules are for device type "truck" but the schema is "bus"`],
    ["duplicate rule names", "rules:\n  r:\n    when: speed_kmh > 1\n  r:\n    when: speed_kmh > 2\n", `r.yaml:4:3: Map keys must be unique`],
    ["YAML syntax error", "rules:\n  r:\n    when: [speed_kmh > 1\n", `r.yaml:`],
    ["bad rule name", "rules:\n  Fast-Bus:\n    when: speed_kmh > 1\n", `r.yaml:2:3: rule name "Fast-Bus" must be lower_snake_case`],
  ])("%s", (_name, src, expected) => {
    const got = issues(src)
    expect(got.length).toBeGreaterThan(0)
    expect(got.some((l) => l.includes(expected))).toBe(true)
  })

  test("every problem in a file is reported, in line order", () => {
    const got = issues(rule("    when: avg(engine_rmp, 10) > $limt\n    sevrity: warning"))
    expect(got.map((l) => l.split(": ")[0])).toEqual(["r.yaml:6:15", "r.yaml:6:27", "r.yaml:6:33", "r.yaml:7:5"])
  })
})
