import { describe, expect, test } from "bun:test"
import { LiveFleet } from "./live-fleet.ts"

const batch = (rows: Array<[string, number, number]>, width = 2) => ({
  ids: rows.map((r) => r[0]), seqs: new Float64Array(rows.length), ts: new Float64Array(rows.map((r) => r[1])), width,
  values: new Float64Array(rows.flatMap((r) => Array.from({ length: width }, (_, k) => (k === 0 ? r[2] : Number.NaN)))), schema: 1, recvAt: 0,
})
const fields = [{ name: "a", index: 0 }, { name: "b", index: 1 }]

describe("LiveFleet", () => {
  test("keeps per device the reading with the newest event time, even when an older one arrives later", () => {
    const f = new LiveFleet(2)
    f.add(batch([["bus-2", 100, 1], ["bus-1", 100, 5]]))
    f.add(batch([["bus-2", 200, 2]]))
    f.add(batch([["bus-2", 150, 9]])) // late: must not replace the reading of t=200
    expect(f.snapshot(fields)).toEqual({ ids: ["bus-1", "bus-2"], lastAt: [100, 200], values: { a: [5, 2], b: [null, null] } })
    expect(f.metrics.readings).toBe(4)
  })

  test("counts a batch of another width as malformed and keeps nothing of it; holds at most maxDevices", () => {
    const f = new LiveFleet(2, 2)
    f.add(batch([["bus-1", 1, 1]], 3))
    expect(f.metrics.malformed).toBe(1)
    f.add(batch([["bus-1", 1, 1], ["bus-2", 1, 1], ["bus-3", 1, 1]]))
    expect(f.snapshot(fields).ids).toEqual(["bus-1", "bus-2"])
    f.clear()
    expect(f.snapshot(fields).ids).toEqual([])
  })
})
