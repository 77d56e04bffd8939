import { describe, expect, test } from "bun:test"
import { TestClock } from "./clock.ts"
import { Coordinator } from "./coordinator.ts"
import { Leases, type Lease } from "./leases.ts"
import { MemoryKv } from "./nats/memory-kv.ts"
import type { ShardHost, StopReason } from "./shard-host.ts"

/** A stand-in host: records how it was started and stopped. */
class FakeHost {
  ended = false
  stops: StopReason[] = []
  constructor(readonly shard: number, readonly lease: Lease) {}
  async start() {}
  async stop(reason: StopReason) {
    this.stops.push(reason)
    return reason !== "fenced"
  }
}

const setup = (id: string, workers: string[], alive: (m: string) => boolean = () => true) => {
  const kv = new MemoryKv()
  const clock = new TestClock()
  const leases = new Leases(kv, id, clock)
  const made: FakeHost[] = []
  const released: number[] = []
  const view = { workers, healthy: true }
  const c = new Coordinator({
    id, partitions: 4, worker: true, leases, log: () => {},
    membership: { healthy: () => view.healthy, workers: () => view.workers, isAlive: alive },
    makeHost: (s, lease) => {
      const h = new FakeHost(s, lease)
      made.push(h)
      return h as unknown as ShardHost
    },
    announceRelease: (s) => void released.push(s),
  })
  return { kv, clock, c, made, released, view, other: (who: string) => new Leases(kv, who, clock) }
}

describe("Coordinator (on the KV twin)", () => {
  test("takes the free shards placement gives it, not those of a live owner", async () => {
    const t = setup("a", ["a"])
    const b = t.other("b")
    await b.take(2, await b.read(2)) // b holds shard 2 and is alive
    await t.c.reconcile()
    expect([...t.c.held.keys()].sort()).toEqual([0, 1, 3])
  })

  test("takes over a dead owner's lease with the next epoch", async () => {
    const t = setup("a", ["a"], (m) => m !== "b")
    const b = t.other("b")
    await b.take(2, await b.read(2))
    await t.c.reconcile()
    expect(t.c.held.get(2)!.lease.epoch).toBe(2)
  })

  test("hands over a shard placement moved away: final checkpoint, lease released, release announced", async () => {
    const t = setup("a", ["a"])
    await t.c.reconcile()
    t.view.workers = ["a", "b"] // b joined: placement gives it half
    await t.c.reconcile()
    const moved = t.made.filter((h) => h.stops.length > 0)
    expect(moved.length).toBe(2)
    expect(moved.every((h) => h.stops[0] === "handoff")).toBe(true)
    expect(t.released.sort()).toEqual(moved.map((h) => h.shard).sort())
    for (const s of t.released) expect((await t.other("x").read(s)).value).toBeUndefined()
  })

  test("a drain hands every shard over as a drain, also those a pass triggered by its announcement moves", async () => {
    const t = setup("a", ["a"])
    await t.c.reconcile()
    await t.c.drain(async () => {
      t.view.workers = ["b"] // membership now says a is draining: placement moves its shards away
      await t.c.reconcile()
    })
    expect(t.made.map((h) => h.stops)).toEqual([["drain"], ["drain"], ["drain"], ["drain"]])
    expect(t.released.sort()).toEqual([0, 1, 2, 3])
  })

  test("drops a host whose lease moved, without releasing it", async () => {
    const t = setup("a", ["a"])
    await t.c.reconcile()
    const b = t.other("b")
    await b.take(1, await b.read(1)) // b took shard 1 over (a was thought dead)
    await t.c.reconcile()
    expect(t.made.find((h) => h.shard === 1)!.stops).toEqual(["fenced"])
    expect((await b.read(1)).value?.owner).toBe("b")
    expect(t.released).toEqual([])
  })

  test("unhealthy: leaves its hosts (they pause by themselves), takes nothing; healthy again, drops those whose lease moved", async () => {
    const t = setup("a", ["a", "b"], (m) => m !== "b")
    await t.c.reconcile()
    const mine = [...t.c.held.keys()].sort()
    t.view.healthy = false
    t.view.workers = ["a"] // b died meanwhile: its shards would be a's, but not while a is unhealthy
    await t.c.reconcile()
    await t.clock.flush()
    expect([...t.c.held.keys()].sort()).toEqual(mine)
    expect(t.made.every((h) => h.stops.length === 0)).toBe(true)
    const c = t.other("c")
    await c.take(mine[0]!, await c.read(mine[0]!)) // c took one of a's shards while a was unhealthy
    t.view.healthy = true
    await t.c.reconcile()
    expect(t.made.find((h) => h.shard === mine[0])!.stops).toEqual(["fenced"])
    expect(t.made.filter((h) => h.shard !== mine[0]).every((h) => h.stops.length === 0)).toBe(true)
    expect(t.c.held.size).toBe(3) // the rest, plus b's free shards; not the one c holds
  })
})
