import { describe, expect, test } from "bun:test"
import { RateBudgets } from "./rate.ts"

describe("RateBudgets", () => {
  test("a device gets its burst, then rate per second", () => {
    const b = new RateBudgets(10, 10)
    for (let i = 0; i < 10; i++) b.spend("d", 0)
    expect(b.available("d", 0)).toBe(0)
    expect(b.waitMs("d", 0, 1)).toBe(100)
    expect(b.available("d", 500)).toBeCloseTo(5)
    expect(b.available("d", 10_000)).toBe(10)
  })

  test("prune forgets only full buckets, so a spent budget survives", () => {
    const b = new RateBudgets(10)
    b.spend("a", 0)
    for (let i = 0; i < 10; i++) b.spend("b", 0)
    expect(b.prune(100)).toBe(1) // a is full again after 0.1 s; b is not
    expect(b.available("b", 100)).toBeCloseTo(1)
  })
})
