import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { startNats, waitFor, type NatsServer } from "./harness/index.ts"
import { createTestStreams, events, ReadingPublisher, spawnCountingNode, testNodeEnv, waitForCounts } from "./support/cluster.ts"

const P = 8
let ns: NatsServer

beforeAll(async () => {
  ns = await startNats()
  const nc = await ns.connect()
  await createTestStreams(nc)
})
afterAll(async () => ns.cleanup())

describe("nats-server restart", () => {
  test("nodes reconnect and carry on from where they were, without loss or double counting", async () => {
    const env = testNodeEnv(ns.url, P)
    const nodes = ["r1", "r2"].map((n) => spawnCountingNode(n, env))
    await waitFor("both nodes own shards", () => nodes.every((n) => events(n).some((e) => e.event === "shard.first" || e.event === "shard.start")), { timeoutMs: 20_000 })
    const ids = Array.from({ length: 50 }, (_, i) => `dev-${i}`)
    let nc = await ns.connect()
    let pub = new ReadingPublisher(nc, P)
    for (let r = 0; r < 20; r++) await pub.round(ids)
    const sentBefore = new Map(pub.sent)

    await ns.stop() // graceful restart; JetStream data stays on disk
    await Bun.sleep(1500) // an outage the nodes must ride out
    await ns.start()

    nc = await ns.connect()
    const pub2 = new ReadingPublisher(nc, P)
    // a second publisher: the counts of both add up (the counter does not dedup by seq)
    for (let r = 0; r < 20; r++) await pub2.round(ids)
    await waitForCounts(nc, P, ids, (id) => sentBefore.get(id)! + pub2.sent.get(id)!, 40_000)
    expect(nodes.every((n) => n.proc.exitCode === null)).toBe(true)
    if (process.env.TEST_DEBUG) for (const n of nodes) console.error(n.name, events(n).map((e) => `${e.event}:${e.shard ?? ""}:${e.reason ?? e.error ?? ""}`).join(" "))
    for (const n of nodes) await n.kill("SIGTERM")
  }, 90_000)
})
