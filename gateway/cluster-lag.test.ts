import { describe, expect, test } from "bun:test"
import { ClusterLag } from "./cluster-lag.ts"

describe("ClusterLag", () => {
  test("closed while any node's fresh report is above the bound; the most lagging node and shard are named", () => {
    const lag = new ClusterLag(500, 3_000)
    expect(lag.over(0)).toBe(false)
    lag.note({ node: "a", lagBatches: 120, shard: 3 }, 0)
    lag.note({ node: "b", lagBatches: 501, shard: 9 }, 0)
    expect(lag.over(0)).toBe(true)
    expect(lag.worst(0)).toEqual({ node: "b", shard: 9, lagBatches: 501 })
    lag.note({ node: "b", lagBatches: 500, shard: 9 }, 1_000) // at the bound is within it
    expect(lag.over(1_000)).toBe(false)
    expect(lag.worst(1_000)).toEqual({ node: "b", shard: 9, lagBatches: 500 })
  })

  test("a node that stops reporting (dead, starved) no longer holds admission closed after staleMs", () => {
    const lag = new ClusterLag(500, 3_000)
    lag.note({ node: "a", lagBatches: 9_000, shard: 1 }, 0)
    expect(lag.over(3_000)).toBe(true)
    expect(lag.over(3_001)).toBe(false)
    expect(lag.worst(3_001).node).toBeUndefined()
  })

  test("bound 0: never closed", () => {
    const lag = new ClusterLag(0, 3_000)
    lag.note({ node: "a", lagBatches: 1e6, shard: 0 }, 0)
    expect(lag.over(0)).toBe(false)
  })
})
