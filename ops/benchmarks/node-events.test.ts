import { describe, expect, test } from "bun:test"
import { scanNodeEvents } from "./node-events.ts"

describe("scanNodeEvents", () => {
  test("counts the unusual events of every node, keeps the first line of each, and the longest stall", () => {
    const a = [
      `{"event":"node.start","node":"n1"}`,
      `{"event":"shard.reset","shard":3,"error":"ConsumerGone"}`,
      `{"event":"node.stalled","lateMs":1200}`,
      `{"event":"shard.first","shard":3}`,
    ].join("\n")
    const b = [`{"event":"shard.reset","shard":5,"error":"Timeout"}`, `{"event":"node.stalled","lateMs":3400}`, `not json at all`].join("\n")
    const r = scanNodeEvents([a, b])
    expect(r.events).toEqual({ "shard.reset": 2, "node.stalled": 2 })
    expect(r.first["shard.reset"]).toContain(`"shard":3`)
    expect(r.maxStallMs).toBe(3400)
    expect(scanNodeEvents([`{"event":"node.start"}`])).toEqual({ events: {}, first: {}, maxStallMs: 0 })
  })
})
