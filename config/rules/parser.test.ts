import { describe, expect, test } from "bun:test"
import { show } from "./ast.ts"
import { parseDuration } from "./duration.ts"
import { isExprError, parseExpr } from "./parser.ts"
import { didYouMean } from "./suggest.ts"

const ok = (src: string) => {
  const r = parseExpr(src)
  if (isExprError(r)) throw new TypeError(`${src}: ${r.message} at ${r.pos}`)
  return show(r)
}
const err = (src: string) => {
  const r = parseExpr(src)
  if (!isExprError(r)) throw new TypeError(`${src} parsed as ${show(r)}`)
  return r
}

describe("expression parser", () => {
  test.each([
    ["speed_kmh > 80", "(speed_kmh > 80)"],
    ["a + b * c - d / 2 % 3", "((a + (b * c)) - ((d / 2) % 3))"],
    ["-a * (b + 2)", "(-(a) * (b + 2))"],
    ["a < 1 and b >= 2 or not c", "(((a < 1) and (b >= 2)) or not (c))"],
    ["a && b || !c", "((a and b) or not (c))"],
    ["a == 1 and b != 2 and c <= 3", "(((a == 1) and (b != 2)) and (c <= 3))"],
    ["avg(engine_rpm, 10s) > $limit", "(avg(engine_rpm, 10000ms) > $limit)"],
    ["elapsed() > 1.5e2", "(elapsed() > 150)"],
    ["x > .5", "(x > 0.5)"],
    ["true and false", "(true and false)"],
    ["a then b within 30s", "(a then b within 30000ms)"],
    ["a > 1 then b or c within 500ms", "((a > 1) then (b or c) within 500ms)"],
    ["haversine(prev(gps_lat), prev(gps_lon), gps_lat, gps_lon)", "haversine(prev(gps_lat), prev(gps_lon), gps_lat, gps_lon)"],
  ])("parses %s", (src, shown) => expect(ok(src)).toBe(shown))

  test.each([
    ["1 < 2 < 3", 6, "comparisons cannot be chained"],
    ["x = 3", 2, `"=" is not an operator; compare with "=="`],
    ["a & b", 2, `"&" is not an operator; use "and" / "or"`],
    ["avg(x, 10q)", 7, `unknown duration unit "q"`],
    ["foo(", 4, "expression ends too early"],
    ["(a > 1", 6, `expected ")" but found end of expression`],
    ["a > 1 b", 6, `unexpected "b" after the end of the expression`],
    ["a then b", 8, `needs a time limit: "A then B within 30s"`],
    ["a then b within 1s then c", 19, `only one "then" per sequence`],
    ["a > #", 4, `unexpected character "#"`],
    ["1.2.3 > a", 0, `"1.2.3" is not a number`],
    ["and b", 0, `"and" needs an operand before it`],
    ["a > )", 4, `expected a value but found ")"`],
  ])("reports %s at %d", (src, pos, message) => {
    const e = err(src)
    expect(e.pos).toBe(pos)
    expect(e.message).toContain(message)
  })
})

describe("durations", () => {
  test.each([["500ms", 500], ["10s", 10_000], ["1.5m", 90_000], ["2h", 7_200_000], ["1d", 86_400_000]])("%s = %d ms", (s, ms) => expect(parseDuration(s)).toBe(ms))
  test("a bare number is missing a unit, and an unknown unit is named", () => {
    expect(parseDuration("30")).toContain("missing a unit")
    expect(parseDuration("3w")).toContain(`unknown duration unit "w"`)
  })
})

describe("did you mean", () => {
  test("suggests the closest name and stays quiet for unrelated ones", () => {
    expect(didYouMean("engine_rmp", ["engine_rpm", "speed_kmh"])).toBe(` (did you mean "engine_rpm"?)`)
    expect(didYouMean("zzzz", ["engine_rpm", "speed_kmh"])).toBe("")
    expect(didYouMean("speed", ["engine_rpm", "speed_kmh"])).toBe(` (did you mean "speed_kmh"?)`)
  })
})
