import { afterAll, beforeAll, expect, test } from "bun:test"
import type { NatsConnection } from "@nats-io/transport-node"
import { startNats, waitFor, type NatsServer } from "./harness/index.ts"
import { createTestStreams, events, ReadingPublisher, spawnCountingNode, testNodeEnv, waitForCounts } from "./support/cluster.ts"

const P = 4
let ns: NatsServer
let nc: NatsConnection

beforeAll(async () => {
  ns = await startNats()
  nc = await ns.connect()
  await createTestStreams(nc)
})
afterAll(async () => ns.cleanup())

// A node stalled longer than its self-fencing limit (GC pause, CPU starvation, a stopped VM) pauses
// its shards; once its heartbeats go through again it goes on with them in place (nobody else can
// take them here, so every lease is still current): nothing restored, nothing replayed.
test("a lone node paused past its health limit resumes every shard in place and counts each reading once", async () => {
  const env = testNodeEnv(ns.url, P) // heartbeat 500 ms, suspicion 2 s: unhealthy after 1.5 s without a stored heartbeat
  const node = spawnCountingNode("p1", env)
  await waitFor("p1 holds all shards", () => events(node).filter((e) => e.event === "shard.start").length === P, { timeoutMs: 20_000 })
  const pub = new ReadingPublisher(nc, P)
  const ids = Array.from({ length: 24 }, (_, i) => `dev-${i}`)
  let publishing = true
  const publisher = (async () => {
    for (let r = 0; publishing && r < 400; r++) {
      await pub.round(ids)
      await Bun.sleep(20)
    }
  })()
  for (let pause = 0; pause < 3; pause++) {
    await Bun.sleep(1_000)
    process.kill(node.proc.pid, "SIGSTOP")
    await Bun.sleep(1_800)
    process.kill(node.proc.pid, "SIGCONT")
  }
  await Bun.sleep(1_000)
  publishing = false
  await publisher
  await waitForCounts(nc, P, ids, (id) => pub.sent.get(id)!, 30_000)
  const evs = events(node)
  // A shard that got a reading before the first heartbeat after SIGCONT went through paused, and
  // resumed (often the heartbeat, a timer, goes first and no shard notices).
  for (const e of evs.filter((x) => x.event === "shard.unhealthy")) expect(evs.some((x) => x.event === "shard.resumed" && x.shard === e.shard)).toBe(true)
  // Each pause ended in place: no shard was stopped or started again.
  expect(evs.filter((e) => e.event === "shard.start").length).toBe(P)
  expect(evs.filter((e) => e.event === "shard.stopping" || e.event === "shard.stop")).toEqual([])
  await node.kill("SIGTERM")
}, 90_000)
