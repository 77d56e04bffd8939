import { describe, expect, test } from "bun:test"
import { TestClock } from "./clock.ts"
import { Leases } from "./leases.ts"
import { MemoryKv } from "./nats/memory-kv.ts"

describe("Leases (on the KV twin)", () => {
  test("a free shard is taken once: the second taker from the same state loses the race", async () => {
    const kv = new MemoryKv()
    const clock = new TestClock()
    const a = new Leases(kv, "a", clock)
    const b = new Leases(kv, "b", clock)
    const free = await a.read(3)
    expect(free.value).toBeUndefined()
    const la = await a.take(3, free)
    const lb = await b.take(3, free)
    expect(la).toEqual({ shard: 3, revision: la!.revision, epoch: 1 })
    expect(lb).toBeUndefined()
    expect((await b.read(3)).value?.owner).toBe("a")
  })

  test("a dead holder's lease is taken over by CAS on its revision, with the next epoch; a stale holder no longer holds it", async () => {
    const kv = new MemoryKv()
    const clock = new TestClock()
    const a = new Leases(kv, "a", clock)
    const b = new Leases(kv, "b", clock)
    const la = (await a.take(0, await a.read(0)))!
    const seen = await b.read(0)
    const lb = (await b.take(0, seen))!
    expect(lb.epoch).toBe(2)
    expect(await a.holds(la)).toBe(false)
    expect(await b.holds(lb)).toBe(true)
    // a third node that read the state before b's takeover loses
    expect(await new Leases(kv, "c", clock).take(0, seen)).toBeUndefined()
  })

  test("release is a CAS: the holder releases, a deposed holder's release is refused", async () => {
    const kv = new MemoryKv()
    const clock = new TestClock()
    const a = new Leases(kv, "a", clock)
    const b = new Leases(kv, "b", clock)
    const la = (await a.take(1, await a.read(1)))!
    const lb = (await b.take(1, await b.read(1)))!
    expect(await a.release(la)).toBe(false)
    expect((await a.read(1)).value?.owner).toBe("b")
    expect(await b.release(lb)).toBe(true)
    expect((await a.read(1)).value).toBeUndefined()
    expect((await a.readAll(2)).map((s) => s.value?.owner)).toEqual([undefined, undefined])
  })
})
