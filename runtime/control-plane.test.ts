import { describe, expect, test } from "bun:test"
import { TestClock } from "./clock.ts"
import { announceRelease, serveControlPlane, wantsGc } from "./control-plane.ts"
import { MemoryBus } from "./nats/memory-bus.ts"

const enc = new TextEncoder()
const dec = new TextDecoder()

const setup = () => {
  const bus = new MemoryBus(new TestClock())
  const seen = { released: 0, drains: 0, gc: [] as boolean[], refused: 0, badRequests: 0 }
  const stop = serveControlPlane({
    bus, id: "n1",
    log: (event) => {
      if (event === "ctl.refused") seen.refused++
      if (event === "ctl.bad_request") seen.badRequests++
    },
    onReleased: () => void seen.released++,
    stats: async (gc) => {
      seen.gc.push(gc)
      return { node: "n1", draining: false, memory: { rss: 1, heapUsed: 1 }, shards: [] }
    },
    shardCount: () => 3,
    drain: () => void seen.drains++,
  })
  return { bus, seen, stop }
}
const flush = () => new Promise((r) => setImmediate(r))

describe("control plane (on the bus twin)", () => {
  test("answers stats and drain requests, and reconciles on a release", async () => {
    const { bus, seen, stop } = setup()
    expect(JSON.parse(dec.decode(await bus.request("akis.ctl.stats.n1", enc.encode('{"gc":true}'), 1_000)))).toEqual({ node: "n1", draining: false, memory: { rss: 1, heapUsed: 1 }, shards: [] })
    await bus.request("akis.ctl.stats.n1", new Uint8Array(0), 1_000)
    expect(seen.gc).toEqual([true, false])
    expect(JSON.parse(dec.decode(await bus.request("akis.ctl.drain.n1", new Uint8Array(0), 1_000)))).toEqual({ ok: true, node: "n1", shards: 3 })
    expect(seen.drains).toBe(1)
    announceRelease(bus, 5)
    await flush()
    expect(seen.released).toBe(1)
    stop()
    announceRelease(bus, 6)
    await flush()
    expect(seen.released).toBe(1)
  })

  test("ignores a drain delivered without a requester's inbox (a consumer's deliver subject)", async () => {
    const { bus, seen } = setup()
    bus.publish("akis.ctl.drain.n1", new Uint8Array(0)) // no reply inbox: not asked by a client
    await flush()
    expect(seen.drains).toBe(0)
    expect(seen.refused).toBe(1)
  })

  test("a stats body asks for a collection only when it is {\"gc\":true}; a malformed one is a wire error", () => {
    expect([wantsGc(enc.encode('{"gc":true}')), wantsGc(enc.encode('{"gc":false}')), wantsGc(enc.encode("{}")), wantsGc(new Uint8Array(0))]).toEqual([true, false, false, false])
    expect(() => wantsGc(enc.encode("nope"))).toThrow()
    expect(() => wantsGc(enc.encode('{"gc":1}'))).toThrow()
  })

  test("a malformed stats request is logged and answered with plain stats", async () => {
    const { bus, seen } = setup()
    await bus.request("akis.ctl.stats.n1", enc.encode("nope"), 1_000)
    expect(seen.gc).toEqual([false])
    expect(seen.badRequests).toBe(1)
  })
})
