import { describe, expect, test } from "bun:test"
import { TestClock } from "../../runtime/clock.ts"
import { MemoryKv } from "../../runtime/nats/memory-kv.ts"
import { Link, linkKv } from "../../runtime/testing/twin-link.ts"
import { startLease } from "./lease.ts"

describe("notifier lease on a TestClock", () => {
  test("one holder at a time; a partitioned holder is taken over after suspicionMs and steps down itself", async () => {
    const clock = new TestClock(0)
    // One KV bucket (the twin: revisions, compare-and-set); each notifier reaches it over a link that can be cut (a partition).
    const kv = new MemoryKv()
    const aLink = new Link()
    const changes: string[] = []
    const lease = (name: string, link: Link) =>
      startLease({ kv: linkKv(kv, link), key: "leader", holder: name, heartbeatMs: 1_000, suspicionMs: 5_000, clock, onChange: (l) => changes.push(`${name}:${l}@${clock.now()}`) })
    const a = lease("a", aLink)
    await clock.flush()
    const b = lease("b", new Link())
    await clock.advance(10_000)
    expect([a.held, b.held]).toEqual([true, false])
    expect(changes).toEqual(["a:true@0"])

    aLink.cut() // a can no longer reach the KV: it steps down at its next beat, b waits out the suspicion
    await clock.advance(1_000)
    expect(a.held).toBe(false)
    await clock.advance(3_000)
    expect(b.held).toBe(false)
    await clock.advance(3_000)
    expect(b.held).toBe(true)
    const takeover = Number(changes.find((c) => c.startsWith("b:true"))!.split("@")[1])
    expect(takeover - 10_000).toBeGreaterThanOrEqual(5_000) // never before suspicionMs of unchanged revision

    aLink.heal() // a is back: it sees b's beats and stays a standby
    await clock.advance(20_000)
    expect([a.held, b.held]).toEqual([false, true])
    await b.stop()
    await clock.advance(1_000) // b handed over by deleting the key: a takes it on its next beat
    expect(a.held).toBe(true)
    await a.stop()
    expect(clock.timers).toBe(0)
  })
})
