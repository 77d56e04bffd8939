import { describe, expect, test } from "bun:test"
import type { AlertTransition } from "../../runtime/alert.ts"
import { decide, decodeState, digestFlushed, emptyState, encodeState, encodeStateWithin, forget, prune, type NotifyPolicy, type RuleFacts } from "./core.ts"

const t0 = Date.UTC(2026, 10, 25, 12, 0, 0)
let n = 0
const tr = (over: Partial<AlertTransition> = {}): AlertTransition => {
  const i = ++n
  const device = over.device ?? "bus-1"
  const rule = over.rule ?? "overheating"
  const alertId = over.alertId ?? `${device}:${rule}:${i}`
  const kind = over.kind ?? "raised"
  const severity = over.severity ?? "warning"
  return {
    id: `${alertId}:${kind}:${severity}`, alertId, device, rule, kind, severity, at: t0, seq: i, message: "m", values: { x: 1 },
    channels: ["email"], ruleVersion: 1, recvAt: t0, ...over,
  }
}
const policy = (over: Partial<NotifyPolicy> = {}): NotifyPolicy => ({
  routes: new Map([
    ["email", { name: "email", severities: [], groups: [] }],
    ["sms", { name: "sms", severities: ["critical"], groups: [] }],
    ["minibus-hook", { name: "minibus-hook", severities: [], groups: ["minibus"] }],
  ]),
  digestWindowMs: 60_000, digestThreshold: 100, cap: { max: 1_000, windowMs: 3_600_000 }, capByRule: {}, rememberMs: 60_000, ...over,
})
const facts: RuleFacts = { throttleMs: 600_000, groups: [] }
const sends = (ds: ReadonlyArray<{ action: string }>) => ds.filter((d) => d.action === "send").length

describe("notifier core", () => {
  test("routes by channel, severity and device group; unknown channels are held and named", () => {
    const s = emptyState()
    const p = policy()
    const d = decide(s, tr({ channels: ["email", "sms", "dashboard", "minibus-hook"] }), facts, p, 0)
    expect(d).toEqual([
      { channel: "email", action: "send", key: expect.stringContaining("@email") },
      { channel: "sms", action: "held", reason: "filtered" },
      { channel: "dashboard", action: "held", reason: "unknown_channel" },
      { channel: "minibus-hook", action: "held", reason: "filtered" },
    ])
    const crit = decide(s, tr({ device: "mini-1", severity: "critical", channels: ["sms", "minibus-hook"] }), { throttleMs: 0, groups: ["minibus"] }, p, 0)
    expect(crit.map((x) => x.action)).toEqual(["send", "send"])
  })

  test("the idempotency key is the transition id plus the channel", () => {
    const t = tr()
    expect(decide(emptyState(), t, facts, policy(), 0)[0]).toEqual({ channel: "email", action: "send", key: `${t.id}@email` })
  })

  test("throttle: one message per rule × device × channel per throttle period of event time", () => {
    const s = emptyState()
    const p = policy()
    // 30 raises of the same rule on the same device within a minute (each a new alert after a clear).
    let sent = 0
    for (let i = 0; i < 30; i++) sent += sends(decide(s, tr({ at: t0 + i * 2_000 }), facts, p, 0))
    expect(sent).toBe(1)
    // Another device, and the same device once the 10 min throttle has passed, go out.
    expect(sends(decide(s, tr({ device: "bus-2", at: t0 + 5_000 }), facts, p, 0))).toBe(1)
    expect(sends(decide(s, tr({ at: t0 + 600_000 }), facts, p, 0))).toBe(1)
    expect(sends(decide(s, tr({ at: t0 + 600_001 }), facts, p, 0))).toBe(0)
  })

  test("frequency cap per alert type: N anomalies in a minute on N devices give cap.max messages", () => {
    const s = emptyState()
    const p = policy({ capByRule: { overheating: { max: 3, windowMs: 60_000 } } })
    const ds = Array.from({ length: 20 }, (_, i) => decide(s, tr({ device: `bus-${i}`, at: t0 + i * 1_000 }), facts, p, 0))
    expect(ds.reduce((a, d) => a + sends(d), 0)).toBe(3)
    expect(ds.filter((d) => d[0]!.action === "held" && (d[0] as { reason: string }).reason === "capped")).toHaveLength(17)
    // Another rule has its own (default) cap; the next window starts a new count.
    expect(sends(decide(s, tr({ rule: "low_fuel", device: "bus-0", at: t0 }), facts, p, 0))).toBe(1)
    expect(sends(decide(s, tr({ device: "bus-99", at: t0 + 60_000 }), facts, p, 0))).toBe(1)
  })

  test("digest: past the threshold a channel's window goes into one digest; a flushed digest starts the next part", () => {
    const s = emptyState()
    const p = policy({ digestThreshold: 2 })
    const ds = Array.from({ length: 6 }, (_, i) => decide(s, tr({ device: `bus-${i}`, at: t0 + i }), facts, p, 0)[0]!)
    expect(ds.map((d) => d.action)).toEqual(["send", "send", "digest", "digest", "digest", "digest"])
    const key = (ds[2] as { key: string }).key
    expect(ds.slice(2).every((d) => (d as { key: string }).key === key)).toBe(true)
    digestFlushed(s, key)
    const late = decide(s, tr({ device: "bus-7", at: t0 + 10 }), facts, p, 0)[0] as { action: string; key: string }
    expect(late.action).toBe("digest")
    expect(late.key).not.toBe(key)
    expect(late.key).toBe(key.replace(/:1@/, ":2@"))
  })

  test("an escalation is delivered as such even while the throttle runs; a clear follows only a notified alert", () => {
    const s = emptyState()
    const p = policy()
    const raised = tr({ alertId: "bus-1:overheating:5" })
    expect(sends(decide(s, raised, facts, p, 0))).toBe(1)
    const esc = tr({ alertId: "bus-1:overheating:5", kind: "escalated", severity: "critical", channels: ["email", "sms"], at: t0 + 1 })
    expect(decide(s, esc, facts, p, 0).map((d) => d.action)).toEqual(["send", "send"])
    // A second alert inside the throttle is held, and so is its clear; the notified one's clear goes out on both channels.
    const held = tr({ alertId: "bus-1:overheating:9", at: t0 + 2 })
    expect(decide(s, held, facts, p, 0)[0]).toEqual({ channel: "email", action: "held", reason: "throttled" })
    expect(decide(s, tr({ alertId: "bus-1:overheating:9", kind: "cleared", at: t0 + 3 }), facts, p, 0)[0]).toEqual({ channel: "email", action: "held", reason: "clear_not_notified" })
    const cleared = tr({ alertId: "bus-1:overheating:5", kind: "cleared", severity: "critical", channels: ["email", "sms"], at: t0 + 4 })
    expect(decide(s, cleared, facts, p, 0).map((d) => d.action)).toEqual(["send", "send"])
  })

  test("a redelivered transition gets the decisions it had, and changes nothing", () => {
    const s = emptyState()
    const p = policy()
    const t = tr()
    const first = decide(s, t, facts, p, 0)
    const before = encodeState(s)
    expect(decide(s, t, facts, p, 5)).toBe(first)
    expect(encodeState(s)).toBe(before)
    forget(s, t.id)
    // Once forgotten (acked), the same transition would be throttled by its own earlier send.
    expect(decide(s, t, facts, p, 6)[0]).toEqual({ channel: "email", action: "held", reason: "throttled" })
  })

  test("state survives encoding: a node taking over decides exactly as the old one", () => {
    const a = emptyState()
    const p = policy({ digestThreshold: 3, capByRule: { overheating: { max: 5, windowMs: 60_000 } } })
    const stream = Array.from({ length: 40 }, (_, i) => tr({ device: `bus-${i % 7}`, at: t0 + i * 700, kind: "raised" }))
    for (const t of stream.slice(0, 20)) decide(a, t, facts, p, 0)
    const b = decodeState(encodeState(a))!
    const rest = stream.slice(20)
    expect(rest.map((t) => decide(b, t, facts, p, 0))).toEqual(rest.map((t) => decide(a, t, facts, p, 0)))
    expect(decodeState("{not json")).toBeUndefined()
  })

  test("a persisted state that is not one is undefined and says which field is wrong; missing fields load empty", () => {
    const why: string[] = []
    expect(decodeState(`{"lastSent":[["r|d|email","soon"]]}`, (e) => why.push(`${e.wire} ${e.path}`))).toBeUndefined()
    expect(why).toEqual(["notifier state lastSent.0.1"])
    expect(decodeState(`{"watermark":5}`)).toEqual({ ...emptyState(), watermark: 5 })
  })

  test("prune forgets old decisions and closed windows but keeps running throttles", () => {
    const s = emptyState()
    const p = policy({ rememberMs: 1_000 })
    decide(s, tr({ at: t0 }), facts, p, 0)
    decide(s, tr({ device: "bus-3", at: t0 + 3_600_000 }), facts, p, 500)
    prune(s, p, 1_200, 600_000)
    expect(s.decided.size).toBe(1)
    expect([...s.lastSent.keys()]).toEqual(["overheating|bus-3|email"])
    expect([...s.windowCount.keys()]).toHaveLength(1)
  })
})

describe("encodeStateWithin", () => {
  test("leaves out the oldest throttle marks when the state would not fit one KV value", () => {
    const s = emptyState()
    const p = policy({ cap: { max: 10_000, windowMs: 3_600_000 } })
    for (let i = 0; i < 2_000; i++) decide(s, tr({ device: `bus-${i}`, at: t0 + i }), facts, p, 0)
    for (const k of [...s.decided.keys()]) forget(s, k) // all acked
    const whole = encodeStateWithin(s, 10_000_000)
    expect(whole.trimmed).toBe(0)
    const small = encodeStateWithin(s, 150_000)
    expect(small.json.length).toBeLessThanOrEqual(150_000)
    expect(small.trimmed).toBeGreaterThan(0)
    const back = decodeState(small.json)!
    expect(back.lastSent.size).toBe(2_000 - small.trimmed)
    // The newest marks are the ones kept.
    expect(back.lastSent.has("overheating|bus-1999|email")).toBe(true)
    expect(back.lastSent.has("overheating|bus-0|email")).toBe(false)
    expect(s.lastSent.size).toBe(2_000) // the running state is untouched
  })
})
