import { describe, expect, test } from "bun:test"
import { pack } from "msgpackr"
import type { AlertTransition } from "../../runtime/alert.ts"
import { classifyAlertMessage, parseTransition } from "./alerts.ts"

const t: AlertTransition = {
  id: "bus-1:r:1:raised:warning", alertId: "bus-1:r:1", device: "bus-1", rule: "r", kind: "raised", severity: "warning",
  at: 1_700_000_000_000, seq: 1, message: "m", values: { x: 1 }, channels: ["email"], ruleVersion: 1, recvAt: 1_700_000_000_001,
}
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

describe("classifyAlertMessage", () => {
  test("reads a transition from JSON and from msgpack", () => {
    expect(classifyAlertMessage(json(t))).toEqual({ t })
    expect(classifyAlertMessage(pack(t))).toEqual({ t })
  })

  test("skips what does not claim to be a transition", () => {
    expect(classifyAlertMessage(new TextEncoder().encode("{oops"))).toEqual({ skip: true })
    expect(classifyAlertMessage(json({ kind: "explanation", transitionId: "x" }))).toEqual({ skip: true })
  })

  test.each([
    ["a kind that is none", { ...t, kind: "opened" }, "kind: Expected \"raised\" | \"escalated\" | \"cleared\""],
    ["a value that is not a number", { ...t, values: { x: "hot" } }, "values.x: Expected number"],
    ["a channel that is not a name", { ...t, channels: [1] }, "channels.0: Expected string"],
    ["a missing device", { ...t, device: undefined }, "device: "],
  ])("refuses %s as invalid, naming the field (the writer dead-letters it)", (_what, v, reason) => {
    const m = classifyAlertMessage(json(v))
    expect(m).toHaveProperty("invalid")
    expect((m as { invalid: string }).invalid).toContain(`alert transition "${t.id}": ${reason}`)
  })

  test("keeps the table's range checks and their wording", () => {
    expect(classifyAlertMessage(json({ ...t, seq: 1e300 }))).toEqual({ invalid: `alert transition "${t.id}": seq 1e+300 is not an integer in 0..2^53-1` })
  })
})

describe("parseTransition", () => {
  test("tells why a transition-like message was refused, and nothing for one that is fine or not a transition", () => {
    const reasons: string[] = []
    expect(parseTransition(json({ ...t, severity: "fatal" }), (r) => reasons.push(r))).toBeUndefined()
    expect(parseTransition(json(t), (r) => reasons.push(r))).toEqual(t)
    expect(parseTransition(json({ hello: 1 }), (r) => reasons.push(r))).toBeUndefined()
    expect(reasons).toEqual([expect.stringContaining("severity: Expected")])
  })
})
