/**
 * Heartbeats from a thread of their own, against a real nats-server: they go on while the node's
 * event loop is blocked, and stop once it has been blocked for longer than the watchdog allows.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Kvm } from "@nats-io/kv"
import { startNats, type NatsServer } from "../../tests/harness/index.ts"
import { systemClock } from "../clock.ts"
import { Membership } from "../membership.ts"
import { MemberRecord } from "../wire.ts"
import { heartbeatThread } from "./heartbeat-thread.ts"
import { natsKv } from "./kv.ts"
import { names } from "./topology.ts"

let ns: NatsServer
let kv: ReturnType<typeof natsKv>
beforeAll(async () => {
  ns = await startNats()
  kv = natsKv(await new Kvm(await ns.connect()).create(names.members, { history: 1 }))
})
afterAll(async () => {
  await ns?.stop()
})

const opts = { heartbeatMs: 200, suspicionMs: 1_000 }
const self = (id: string) => ({ id, roles: ["worker"], version: "t", pid: 1, host: "h", startedAt: 0 })
/** The thread connects as a node process does: the node role's credentials, from the config's nats section. */
const thread = (watchdogMs: number, withheld: number[], restarts: string[] = [], spawned: Worker[] = []) =>
  heartbeatThread({
    servers: [ns.url], name: "akis-test-heartbeats", bucket: names.members, watchdogMs,
    auth: { user: "", pass: "", credsDir: ns.credsDir!, credsFile: "", inboxPrefix: "auto", tls: { caFile: "", certFile: "", keyFile: "" } },
  }, systemClock, {
    onWithheld: (ms) => withheld.push(ms),
    onRestart: (why) => restarts.push(why),
    spawn: (url) => spawned[spawned.push(new Worker(url)) - 1]!,
  })
/** Keeps this thread's event loop busy for `ms` (no timer, no message, no socket read runs meanwhile). */
const block = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until) {}
}

describe("heartbeat thread", () => {
  test("stores heartbeats while the event loop is blocked; health counts from the newest one", async () => {
    const withheld: number[] = []
    const m = new Membership(kv, self("a"), opts, systemClock, thread(5_000, withheld))
    await m.start()
    const first = MemberRecord.fromJson((await kv.get("a"))!.value)
    const blockedAt = Date.now()
    block(1_500) // longer than suspicionMs − heartbeatMs: inline heartbeats would have lapsed
    expect(m.lastOk()).toBeGreaterThan(blockedAt + 1_000)
    expect(m.healthy()).toBe(true)
    const last = MemberRecord.fromJson((await kv.get("a"))!.value)
    expect(last.hb).toBeGreaterThanOrEqual(first.hb + 5)
    await m.drain()
    expect(MemberRecord.fromJson((await kv.get("a"))!.value).draining).toBe(true)
    expect(withheld).toEqual([])
    expect(m.heartbeatsWithheld()).toBe(0)
    await m.stop(true)
    expect((await kv.get("a"))?.operation ?? "DEL").not.toBe("PUT") // gone at once for the others
  })

  test("stops heartbeating once the loop has not turned for watchdogMs, and says so", async () => {
    const withheld: number[] = []
    const m = new Membership(kv, self("b"), opts, systemClock, thread(600, withheld))
    await m.start()
    const blockedAt = Date.now()
    block(2_000)
    // The loop's last stamp was at most 250 ms before the block: no heartbeat sent after ≈ blockedAt + 600.
    expect(m.lastOk()).toBeLessThan(blockedAt + 600 + opts.heartbeatMs)
    expect(m.healthy()).toBe(false)
    const silent = Date.now() - MemberRecord.fromJson((await kv.get("b"))!.value).at
    expect(silent).toBeGreaterThan(1_000)
    await Bun.sleep(50) // the thread's message, handled now that the loop turns
    expect(withheld.length).toBe(1)
    expect(withheld[0]).toBeGreaterThanOrEqual(600)
    expect(m.heartbeatsWithheld()).toBe(1) // what /metrics reports (akis_node_heartbeats_withheld_total)
    await Bun.sleep(2 * opts.heartbeatMs) // the loop turns again: heartbeats go on
    expect(m.healthy()).toBe(true)
    await m.stop(false)
  })

  test("a thread that ends by itself is started again and heartbeats go on, still draining", async () => {
    const [withheld, restarts, spawned]: [number[], string[], Worker[]] = [[], [], []]
    const m = new Membership(kv, self("c"), opts, systemClock, thread(5_000, withheld, restarts, spawned))
    await m.start()
    await m.drain()
    const diedAt = Date.now()
    spawned[0]!.terminate() // as an uncaught error in the thread would end it
    await Bun.sleep(1_000)
    expect(restarts).toEqual(["the heartbeat thread ended"])
    expect(spawned.length).toBe(2)
    expect(m.lastOk()).toBeGreaterThan(diedAt)
    const record = MemberRecord.fromJson((await kv.get("c"))!.value)
    expect(record.at).toBeGreaterThan(diedAt)
    expect(record.draining).toBe(true)
    await m.stop(false)
    await Bun.sleep(300)
    expect(spawned.length).toBe(2) // a stopped thread is not started again
  })
})
