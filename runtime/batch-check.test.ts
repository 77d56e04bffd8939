import { describe, expect, test } from "bun:test"
import { BatchBuilder, type ReadingBatch } from "./batch.ts"
import { batchProblem } from "./batch-check.ts"

const good = (): ReadingBatch => {
  const b = new BatchBuilder(2, 1)
  b.push("bus-0001", 1, 1_795_000_000_000, [1, 2])
  b.push("bus-0002", 7, 1_795_000_000_500, [NaN, 2])
  return b.take(1_795_000_000_600)
}

describe("batchProblem", () => {
  test("a batch the gateway builds is fine", () => {
    expect(batchProblem(good())).toBeUndefined()
  })

  test.each([
    ["a device id with a subject wildcard", (b: ReadingBatch) => ({ ...b, ids: ["bus.>", b.ids[1]!] }), /device id "bus\.>" is not a device id/],
    ["an empty device id", (b: ReadingBatch) => ({ ...b, ids: ["", b.ids[1]!] }), /is not a device id/],
    ["a non-string device id", (b: ReadingBatch) => ({ ...b, ids: [42 as unknown as string, b.ids[1]!] }), /device id 42/],
    ["a seq of 1e300", (b: ReadingBatch) => ({ ...b, seqs: new Float64Array([1, 1e300]) }), /reading 1 \(bus-0002\): seq 1e\+300/],
    ["a negative seq", (b: ReadingBatch) => ({ ...b, seqs: new Float64Array([-1, 1]) }), /seq -1/],
    ["a fractional seq", (b: ReadingBatch) => ({ ...b, seqs: new Float64Array([1.5, 1]) }), /seq 1.5/],
    ["a NaN time", (b: ReadingBatch) => ({ ...b, ts: new Float64Array([NaN, 1]) }), /time NaN/],
    ["a time past 2100", (b: ReadingBatch) => ({ ...b, ts: new Float64Array([1, 5e12]) }), /time 5000000000000/],
  ])("%s is a problem", (_what, breakIt, message) => {
    expect(batchProblem(breakIt(good()))).toMatch(message)
  })
})
