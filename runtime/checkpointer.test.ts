import { describe, expect, test } from "bun:test"
import { checkpointPhase } from "./checkpointer.ts"

describe("checkpoint phases", () => {
  test("the shards of a node take their turns spread over the interval, not all at once", () => {
    // Any 8 of 16 shards (a node's share) — here every second one, the first 8 and a scattered set.
    for (const held of [[0, 2, 4, 6, 8, 10, 12, 14], [0, 1, 2, 3, 4, 5, 6, 7], [1, 3, 4, 9, 10, 12, 13, 15]]) {
      const phases = held.map(checkpointPhase).sort((a, b) => a - b)
      for (const p of phases) expect(p >= 0 && p < 1).toBe(true)
      const gaps = phases.map((p, i) => (i === 0 ? p + 1 - phases[phases.length - 1]! : p - phases[i - 1]!))
      // Evenly spread would be 1/8 apart; no two closer than a quarter of that.
      expect(Math.min(...gaps)).toBeGreaterThan(1 / 32)
    }
  })
})
