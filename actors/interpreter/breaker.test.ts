import { describe, expect, test } from "bun:test"
import { Breaker, Lru } from "./breaker.ts"

describe("Breaker", () => {
  test("opens after N consecutive failures, lets one probe through after the cooldown, closes on success", () => {
    const b = new Breaker(3, 1_000)
    b.failure(0)
    b.success() // a success resets the count
    b.failure(1)
    b.failure(2)
    expect(b.allow(3)).toBe(true)
    b.failure(3)
    expect(b.state(3)).toBe("open")
    expect(b.allow(500)).toBe(false)
    expect(b.allow(1_003)).toBe(true) // the probe
    expect(b.allow(1_004)).toBe(false) // only one at a time
    b.failure(1_005)
    expect(b.allow(1_500)).toBe(false)
    expect(b.opened).toBe(2)
    expect(b.allow(2_006)).toBe(true)
    b.success()
    expect(b.state(2_007)).toBe("closed")
    expect(b.allow(2_007) && b.allow(2_008)).toBe(true)
  })
})

describe("Lru", () => {
  test("forgets the least recently used entry first; size 0 keeps nothing", () => {
    const c = new Lru<number>(2)
    c.set("a", 1)
    c.set("b", 2)
    c.get("a")
    c.set("c", 3)
    expect([c.get("a"), c.get("b"), c.get("c")]).toEqual([1, undefined, 3])
    const none = new Lru<number>(0)
    none.set("a", 1)
    expect(none.get("a")).toBeUndefined()
  })
})
