import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { jetstreamManager } from "@nats-io/jetstream"
import { names } from "../runtime/index.ts"
import { startNatsCluster, waitFor, type NatsCluster } from "./harness/index.ts"
import { createTestStreams, ReadingPublisher, spawnCountingNode, testNodeEnv, waitForCounts } from "./support/cluster.ts"

const P = 8
let cluster: NatsCluster
let nc: NatsConnection

beforeAll(async () => {
  cluster = await startNatsCluster(3)
  nc = await cluster.connect()
  await createTestStreams(nc, 3)
}, 60_000)
afterAll(async () => {
  await nc.close()
  await cluster.cleanup()
})

describe("on a 3-server NATS cluster", () => {
  test("nodes use R3 streams and buckets and keep counting exactly when one NATS server dies", async () => {
    // Production timing: R3 KV writes on a loaded 2-core machine can take over a second.
    const env = testNodeEnv(cluster.urls, P, { AKIS_STREAMS__REPLICAS: "3", AKIS_NODE__HEARTBEATMS: "1000", AKIS_NODE__SUSPICIONMS: "3000" })
    const nodes = ["c1", "c2"].map((n) => spawnCountingNode(n, env))
    const jsm = await jetstreamManager(nc)
    await waitFor("R3 buckets exist", async () => (await jsm.streams.info(`KV_${names.shards}`)).config.num_replicas === 3, { timeoutMs: 30_000, intervalMs: 300 })
    expect((await jsm.streams.info(names.telemetry)).config.num_replicas).toBe(3)

    const pub = new ReadingPublisher(nc, P)
    const ids = Array.from({ length: 40 }, (_, i) => `bus-${i}`)
    for (let r = 0; r < 10; r++) await pub.round(ids)
    // The fault must hit something: kill the server leading the telemetry stream (the one every
    // batch goes through), after checking that it leads, and see leadership move.
    const leaderOf = async (stream: string) => (await jsm.streams.info(stream)).cluster?.leader
    const victim = await waitFor("telemetry stream leader", () => leaderOf(names.telemetry), { timeoutMs: 30_000, intervalMs: 300 })
    const server = cluster.servers.find((s) => s.name === victim)
    expect(server?.name).toBe(victim)
    const alsoLed = (await Promise.all([`KV_${names.shards}`, `KV_${names.members}`].map(async (st) => [st, await leaderOf(st)] as const))).filter(([, l]) => l === victim)
    await server!.stop(true) // SIGKILL one NATS server; quorum (2 of 3) remains
    const successor = await waitFor("a new telemetry stream leader", async () => {
      const l = await leaderOf(names.telemetry).catch(() => undefined)
      return l !== undefined && l !== victim ? l : undefined
    }, { timeoutMs: 30_000, intervalMs: 300 })
    console.error(`cluster-r3: killed ${victim} (leader of ${[names.telemetry, ...alsoLed.map(([st]) => st)].join(", ")}); ${successor} leads the telemetry stream now`)
    for (let r = 0; r < 10; r++) await pub.round(ids)
    await waitForCounts(nc, P, ids, (id) => pub.sent.get(id)!, 60_000)
    expect([...pub.sent.values()].every((n) => n === 20)).toBe(true)
    expect((await jsm.streams.info(`OBJ_${names.snapshotObjects}`)).config.num_replicas).toBe(3) // checkpoint bodies
    for (const n of nodes) await n.kill("SIGTERM")
  }, 150_000)
})
