import { describe, expect, test } from "bun:test"
import { TestClock } from "../runtime/clock.ts"
import { Admission, type Expiry } from "./admission.ts"
import { sweepMs, watchDeadlines } from "./deadlines.ts"

const limits = {
  maxConnections: 10, maxHandshakesPerSec: 100, maxHandshakesPerSecPerAddress: 100,
  handshakeTimeoutMs: 1_000, firstFrameTimeoutMs: 2_000, idleTimeoutMs: 4_000,
}

describe("deadline sweep on the gateway clock", () => {
  test("a silent device is closed idle_timeout after its last byte, within one sweep period, never before", async () => {
    const clock = new TestClock(0)
    const a = new Admission<string>(limits)
    const expired: Array<[string, Expiry, number]> = []
    const ticks: number[] = []
    const stop = watchDeadlines(clock, a, (h, why) => expired.push([h, why, clock.now()]), (now) => ticks.push(now))
    expect(sweepMs(limits)).toBe(250)
    a.admit("talker", "10.0.0.1", 0)
    a.admit("quiet", "10.0.0.2", 0)
    for (const h of ["talker", "quiet"]) a.handshaken(h, 0)
    for (const h of ["talker", "quiet"]) a.seen(h, 100, true)
    // The talker keeps sending every 500 ms for 10 s; the quiet one last sent at 100 ms.
    for (let t = 500; t <= 10_000; t += 500) {
      await clock.advanceTo(t)
      a.seen("talker", t, true)
    }
    expect(expired).toEqual([["quiet", "idle_timeout", 4_250]]) // due at 4_100, caught by the sweep at 4_250
    expect(ticks.length).toBe(40)
    stop()
    await clock.advance(60_000)
    expect(expired).toHaveLength(1)
    expect(clock.timers).toBe(0)
  })

  test("a socket that never finishes its handshake is dropped at the first sweep past handshakeTimeoutMs", async () => {
    const clock = new TestClock(0)
    const a = new Admission<string>(limits)
    const expired: Array<[string, Expiry, number]> = []
    watchDeadlines(clock, a, (h, why) => expired.push([h, why, clock.now()]))
    a.admit("slow", "10.0.0.3", 0)
    await clock.advance(999)
    expect(expired).toEqual([])
    await clock.advance(1)
    expect(expired).toEqual([["slow", "handshake_timeout", 1_000]])
  })
})
