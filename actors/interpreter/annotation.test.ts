import { describe, expect, test } from "bun:test"
import { parseExplanation, type Explanation } from "./annotation.ts"

const x: Explanation = {
  kind: "explanation", transitionId: "bus-1:r:1:raised:warning", alertId: "bus-1:r:1", device: "bus-1", rule: "r", at: 5,
  model: "phi3", text: "hot", createdAt: 6, latencyMs: 7, cached: true,
}
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

describe("parseExplanation", () => {
  test("reads an explanation back, filling what an older writer left out", () => {
    expect(parseExplanation(json(x))).toEqual(x)
    const { model: _m, createdAt: _c, latencyMs: _l, cached: _k, ...bare } = x
    expect(parseExplanation(json(bare))).toEqual({ ...bare, model: "", createdAt: 0, latencyMs: 0, cached: false })
  })

  test("is undefined for other messages, and for a malformed explanation says which field", () => {
    const why: string[] = []
    const report = (e: { wire: string; path: string }) => why.push(`${e.wire} ${e.path}`)
    expect(parseExplanation(json({ id: "t", kind: "raised" }), report)).toBeUndefined()
    expect(parseExplanation(new TextEncoder().encode("{x"), report)).toBeUndefined()
    expect(parseExplanation(json({ ...x, at: "noon" }), report)).toBeUndefined()
    expect(why).toEqual(["explanation annotation at"])
  })
})
