import { describe, expect, test } from "bun:test"
import { gapAlert, streamGap } from "./stream-gap.ts"

describe("stream gap", () => {
  test.each([
    [0, 10, undefined], // nothing processed yet: reading from the start is no gap
    [5, 6, undefined], // the next one is the first left
    [5, 3, undefined], // more than the next is left
    [5, 9, { from: 6, to: 8, count: 3 }],
  ])("processed %p, first left %p → %p", (processed, first, want) => {
    expect(streamGap(processed, first)).toEqual(want)
  })

  test("the alert's id is the gap's start, so a replay raises it once", () => {
    const a = gapAlert(2, "AKIS_TLM", { from: 6, to: 8, count: 3 }, 1_000)
    expect(a.transition.id).toBe("akis-shard-2:stream_gap:6:raised:critical")
    expect(a.transition.values).toEqual({ fromSeq: 6, toSeq: 8, count: 3 })
    expect(a.subject.startsWith("akis.alerts.")).toBe(true)
  })
})
