import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { askActor } from "../runtime/index.ts"
import { startNats, waitFor, type NatsServer } from "./harness/index.ts"
import { createTestStreams, events, ReadingPublisher, spawnCountingNode, testNodeEnv } from "./support/cluster.ts"
import type { NatsConnection } from "@nats-io/transport-node"

const P = 8
let ns: NatsServer
let nc: NatsConnection

beforeAll(async () => {
  ns = await startNats()
  nc = await ns.connect()
  await createTestStreams(nc)
})
afterAll(async () => ns.cleanup())

describe("a node", () => {
  test("takes every shard, delivers readings to actors and answers queries through the router", async () => {
    const n1 = spawnCountingNode("n1", testNodeEnv(ns.url, P))
    await waitFor("n1 holds all shards", () => events(n1).filter((e) => e.event === "shard.start").length === P, { timeoutMs: 20_000 })
    const pub = new ReadingPublisher(nc, P)
    const ids = Array.from({ length: 20 }, (_, i) => `dev-${i}`)
    for (let r = 0; r < 5; r++) await pub.round(ids)
    await waitFor("counts", async () => (await askActor<{ count: number }>(nc, P, "counter", "dev-7")).count === 5)
    expect(await askActor(nc, P, "counter", "dev-3")).toEqual({ count: 5, seqSum: 15 })
    await expect(askActor(nc, P, "counter", "nobody", {}, { timeoutMs: 2000 })).rejects.toThrow(/has not received any message/)
    await n1.kill("SIGTERM")
  }, 60_000)

  test("refuses to start with a different partition count and says why", async () => {
    const bad = spawnCountingNode("bad", testNodeEnv(ns.url, P + 1))
    const code = await bad.exited
    expect(code).not.toBe(0)
    expect(bad.output()).toContain(`configured with ${P + 1} partitions but the cluster was created with ${P}`)
  }, 30_000)
})
