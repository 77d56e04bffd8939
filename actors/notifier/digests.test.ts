import { describe, expect, test } from "bun:test"
import { TestClock } from "../../runtime/clock.ts"
import { type Digest, Digests, flushDigestsOnTime } from "./digests.ts"

describe("digests on the notifier clock", () => {
  test("a digest goes out once its window has closed (within one poll), with every member folded in meanwhile", async () => {
    const clock = new TestClock(0)
    const digests = new Digests<string>()
    const sent: Array<[number, Digest<string>]> = []
    const stop = flushDigestsOnTime(clock, digests, () => true, (d) => sent.push([clock.now(), d]))
    digests.add("k", "mail", "t1", clock.now(), 1_000)
    await clock.advance(500)
    digests.add("k", "mail", "t2", clock.now(), 1_000) // same window: closes at 1_000 still
    digests.add("other", "sms", "t3", clock.now(), 1_000) // its own window: 1_500
    await clock.advance(499)
    expect(sent).toEqual([])
    await clock.advance(1)
    expect(sent.map(([at, d]) => [at, d.key, d.members])).toEqual([[1_000, "k", ["t1", "t2"]]])
    await clock.advance(600)
    expect(sent.map(([at, d]) => [at, d.key])).toEqual([[1_000, "k"], [1_600, "other"]])
    expect(digests.size).toBe(0)
    stop()
    expect(clock.timers).toBe(0)
  })

  test("nothing goes out while not live; a planned stop takes every waiting digest at once", async () => {
    const clock = new TestClock(0)
    const digests = new Digests<string>()
    const sent: string[] = []
    let live = false
    flushDigestsOnTime(clock, digests, () => live, (d) => sent.push(d.key))
    digests.add("a", "mail", "t1", 0, 100)
    digests.add("b", "mail", "t2", 0, 60_000)
    await clock.advance(1_000)
    expect(sent).toEqual([])
    live = true
    await clock.advance(200)
    expect(sent).toEqual(["a"])
    expect(digests.take(clock.now(), true).map((d) => d.key)).toEqual(["b"])
  })
})
