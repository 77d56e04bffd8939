import { describe, expect, test } from "bun:test"
import type { Clock } from "./clock.ts"
import { watchStalls } from "./stall-watch.ts"

/** A clock whose one periodic timer the test fires by hand at chosen times (a blocked loop fires it late). */
const handClock = () => {
  let t = 0
  let fn: (() => void) | undefined
  const clock = { now: () => t, every: (_ms: number, f: () => void) => ((fn = f), () => (fn = undefined)) } as unknown as Clock
  return { clock, fireAt: (at: number) => ((t = at), fn?.()) }
}

describe("watchStalls", () => {
  test("reports a timer that fired late by the threshold or more, with how late", () => {
    const h = handClock()
    const stalls: number[] = []
    const stop = watchStalls(h.clock, { everyMs: 250, thresholdMs: 1000, onStall: (ms) => stalls.push(ms) })
    for (const at of [250, 500, 760, 1010]) h.fireAt(at) // on time, give or take a few ms
    h.fireAt(2400) // blocked for 1.14 s
    h.fireAt(2650)
    h.fireAt(3899) // 999 ms late: under the threshold
    expect(stalls).toEqual([1140])
    stop()
    h.fireAt(9000)
    expect(stalls).toEqual([1140])
  })
})
