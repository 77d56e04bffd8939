/**
 * One topology on a 3-server cluster with `streams.replicas: 3`: whichever process starts first
 * (a gateway, the alert writer, the rules watcher or a node), every stream, bucket and object
 * store ends up R3 with the table's settings; a node started against a conflicting stream refuses
 * with the reason, and `ops topology apply` repairs what NATS can change in place.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/transport-node"
import { startAlertWriter, type Store } from "../actors/sink/index.ts"
import { openRulesKv } from "../ops/lib/rules-store.ts"
import { ensureTelemetryStream } from "../gateway/index.ts"
import { applyTopology, definitions, streamName, type TopologyOptions } from "../runtime/nats/topology.ts"
import { startNatsCluster, waitFor, type NatsCluster } from "./harness/index.ts"
import { events, spawnCountingNode, testNodeEnv } from "./support/cluster.ts"
import { testTopology } from "./support/topology.ts"
import { natsPorts } from "../runtime/nats/nats-ports.ts"

const P = 4
const o3: TopologyOptions = { ...testTopology, replicas: 3 }
let cluster: NatsCluster
const conns: NatsConnection[] = []
const as = async (role: "admin" | "node" | "gateway") => {
  const nc = await cluster.connect(role)
  conns.push(nc)
  return nc
}
const nullStore: Store = {
  kind: "chdb", binaryInsert: false, exec: async () => {}, query: async () => [], insert: async () => {}, close: async () => {},
}
const replicasOfEveryRow = async (jsm: JetStreamManager) => {
  const out: Record<string, number> = {}
  for (const d of definitions) if (d.kind !== "consumer") out[streamName(d)] = (await jsm.streams.info(streamName(d))).config.num_replicas
  return out
}

beforeAll(async () => {
  cluster = await startNatsCluster(3)
}, 60_000)
afterAll(async () => {
  for (const c of conns) await c.close().catch(() => {})
  await cluster.cleanup()
})

describe("one topology on a 3-server cluster with streams.replicas: 3", () => {
  test("a gateway, the alert writer and the rules store started before any node: every stream and bucket is R3", async () => {
    // The gateway's credentials may not create AKIS_TLM: it waits for it.
    const gatewayReady = ensureTelemetryStream((await natsPorts(await as("gateway"))).setup, o3)
    // The alert writer and the rules watcher (node credentials) come first and create their rows.
    const writer = await startAlertWriter({ nats: await natsPorts(await as("node")), store: nullStore, consumer: "akis_sink_alerts", topology: o3 })
    await openRulesKv(await as("node"), o3)
    const admin = await as("admin")
    const jsm = await jetstreamManager(admin)
    expect((await jsm.streams.info("AKIS_ALERTS")).config).toMatchObject({ num_replicas: 3, duplicate_window: 600e9, max_bytes: o3.alertsMaxMB! * 1024 * 1024 })
    expect((await jsm.streams.info("KV_akis_rules")).config).toMatchObject({ num_replicas: 3, max_msgs_per_subject: 64 })
    // Then a node creates the rest; the waiting gateway goes on.
    const node = spawnCountingNode("r3a", testNodeEnv(cluster.urls, P, { AKIS_STREAMS__REPLICAS: "3", AKIS_NODE__HEARTBEATMS: "1000", AKIS_NODE__SUSPICIONMS: "3000" }))
    await waitFor("r3a holds its shards", () => events(node).filter((e) => e.event === "shard.start").length === P, { timeoutMs: 60_000 })
    await gatewayReady
    const replicas = await replicasOfEveryRow(jsm)
    expect(Object.values(replicas).every((r) => r === 3)).toBe(true)
    // Every row of the table, whichever process created it (the notifier's bucket included).
    const rows = definitions.filter((d) => d.kind !== "consumer").map((d) => streamName(d as Exclude<typeof d, { kind: "consumer" }>))
    expect(Object.keys(replicas).sort()).toEqual(rows.sort())
    expect(rows).toContain("KV_akis_notify")
    expect((await jsm.streams.info("AKIS_TLM")).config).toMatchObject({ duplicate_window: 120e9, max_bytes: o3.telemetryMaxMB! * 1024 * 1024, max_age: 3600e9 })
    await writer.stop()
    await node.kill("SIGTERM")
  }, 150_000)

  test("a node started against a stream with other settings refuses with the reason; ops topology apply repairs it", async () => {
    const jsm = await jetstreamManager(await as("admin"))
    // Someone recreated AKIS_DLQ by hand with one replica.
    const cfg = (await jsm.streams.info("AKIS_DLQ")).config
    await jsm.streams.delete("AKIS_DLQ")
    await jsm.streams.add({ ...cfg, num_replicas: 1 })
    const env = testNodeEnv(cluster.urls, P, { AKIS_STREAMS__REPLICAS: "3" })
    const bad = spawnCountingNode("r3b", env)
    expect(await bad.exited).not.toBe(0)
    expect(bad.output()).toContain("stream AKIS_DLQ exists with settings that contradict the configuration: num_replicas is 1, configured 3")
    expect(events(bad).some((e) => e.event === "shard.start")).toBe(false)

    const r = await applyTopology(jsm, o3)
    expect(r).toEqual({ changed: ["AKIS_DLQ: num_replicas is 1, configured 3"], impossible: [] })
    await waitFor("AKIS_DLQ is R3", async () => (await jsm.streams.info("AKIS_DLQ")).config.num_replicas === 3, { timeoutMs: 30_000 })
    const good = spawnCountingNode("r3c", env)
    await waitFor("r3c starts", () => events(good).some((e) => e.event === "node.start"), { timeoutMs: 60_000 })
    await good.kill("SIGTERM")
  }, 150_000)
})
