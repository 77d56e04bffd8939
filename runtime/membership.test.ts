import { describe, expect, test } from "bun:test"
import { TestClock } from "./clock.ts"
import { Membership } from "./membership.ts"
import { MemoryKv } from "./nats/memory-kv.ts"
import { Link, linkKv } from "./testing/twin-link.ts"

const opts = { heartbeatMs: 1_000, suspicionMs: 3_000 }
const member = (kv: ReturnType<typeof linkKv> | MemoryKv, id: string, clock: TestClock, roles = ["worker"]) =>
  new Membership(kv, { id, roles, version: "t", pid: 1, host: "h", startedAt: clock.now() }, opts, clock)

describe("Membership (on the KV twin and a test clock)", () => {
  test("members see each other by heartbeat, and a silent one dies after the suspicion time", async () => {
    const kv = new MemoryKv()
    const clock = new TestClock()
    const a = member(kv, "a", clock)
    const b = member(kv, "b", clock)
    let changes = 0
    await a.start()
    await b.start()
    a.onChange(() => changes++)
    await clock.advance(1_000) // heartbeats seen through the watch
    expect(a.workers()).toEqual(["a", "b"])
    await b.stop(false) // b stops heartbeating without leaving (a crash)
    await clock.advance(opts.suspicionMs - 600)
    expect(a.isAlive("b")).toBe(true) // not yet: its last heartbeat is recent enough
    await clock.advance(1_000)
    expect(a.isAlive("b")).toBe(false)
    expect(a.workers()).toEqual(["a"])
    expect(changes).toBe(1)
    await a.stop(false)
  })

  test("a leaving member deletes its key and is gone at once; a draining one is no worker", async () => {
    const kv = new MemoryKv()
    const clock = new TestClock()
    const a = member(kv, "a", clock)
    const b = member(kv, "b", clock)
    const c = member(kv, "c", clock)
    for (const m of [a, b, c]) await m.start()
    await clock.advance(1_000)
    await c.drain()
    await b.stop(true)
    await clock.flush()
    expect(a.workers()).toEqual(["a"])
    expect(a.view().map((m) => m.id).sort()).toEqual(["a", "c"])
    await a.stop(false)
    await c.stop(false)
  })

  test("a node whose heartbeats fail turns unhealthy before the others can declare it dead", async () => {
    const kv = new MemoryKv()
    const clock = new TestClock()
    const link = new Link()
    const a = member(linkKv(kv, link), "a", clock)
    const b = member(kv, "b", clock)
    await a.start()
    await b.start()
    await clock.advance(1_000)
    expect(a.healthy()).toBe(true)
    link.cut()
    const cutAt = clock.now()
    let unhealthyAt = 0
    let deadAt = 0
    for (let t = 0; t < 5_000 && !(unhealthyAt && deadAt); t += 50) {
      await clock.advance(50)
      if (!unhealthyAt && !a.healthy()) unhealthyAt = clock.now()
      if (!deadAt && !b.isAlive("a")) deadAt = clock.now()
    }
    expect(unhealthyAt).toBeGreaterThan(cutAt)
    expect(deadAt).toBeGreaterThan(unhealthyAt + opts.heartbeatMs / 2) // a margin of at least half a heartbeat
    link.heal()
    await clock.advance(1_000)
    expect(a.healthy()).toBe(true)
    expect(b.isAlive("a")).toBe(true)
    await a.stop(false)
    await b.stop(false)
  })
})
