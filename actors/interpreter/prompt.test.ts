import { describe, expect, test } from "bun:test"
import type { AlertTransition } from "../../runtime/alert.ts"
import { buildPrompt, situationKey, type Situation } from "./prompt.ts"

const t: AlertTransition = {
  id: "bus-1:overheating:7:raised:warning", alertId: "bus-1:overheating:7", device: "bus-1", rule: "overheating", kind: "raised", severity: "warning",
  at: 0, seq: 7, message: "avg(coolant_temp_c, 10s) > 105", values: { "avg(coolant_temp_c,10s)": 112.41234 }, channels: [], ruleVersion: 1, recvAt: 0,
}
const s: Situation = { transition: t, description: "Coolant too hot.", windows: { "coolant_temp_c:10000ms": { avg: 112.4, min: null } }, history: ["none before"] }

describe("prompt", () => {
  test("names the rule's meaning, the condition, the values, the windows and the history", () => {
    expect(buildPrompt(s)).toBe([
      'Alert raised: rule "overheating" on device bus-1, severity warning.',
      "What the rule means: Coolant too hot.",
      "Condition: avg(coolant_temp_c, 10s) > 105",
      "Values that triggered it: avg(coolant_temp_c,10s)=112.4",
      "Current window aggregates:",
      "- coolant_temp_c:10000ms: avg=112.4",
      "Recent history:",
      "- none before",
    ].join("\n"))
  })

  test("identical situations share a cache key; another device does not matter, another value or kind does", () => {
    const other = { ...t, device: "bus-2", id: "x", values: { "avg(coolant_temp_c,10s)": 112.2 } }
    expect(situationKey(other)).toBe(situationKey(t))
    expect(situationKey({ ...t, values: { "avg(coolant_temp_c,10s)": 131 } })).not.toBe(situationKey(t))
    expect(situationKey({ ...t, kind: "escalated" })).not.toBe(situationKey(t))
  })
})
