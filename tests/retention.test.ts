/**
 * Retention in production: a running cluster drops ClickHouse partitions past
 * clickhouse.retentionDays on a schedule, on exactly one node (the holder of shard 0's lease),
 * and another node takes the job over when that one is killed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test"
import { join } from "node:path"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { makeClickHouseStore, migrate, type Store } from "../actors/sink/index.ts"
import { spawnChild, startClickHouse, startNats, tempDir, waitFor, type Child, type ClickHouseServer, type NatsServer } from "./harness/index.ts"
import { events, testNodeEnv } from "./support/cluster.ts"

const root = join(import.meta.dir, "..")
let ns: NatsServer
let ch: ClickHouseServer
let store: Store
const nodes = new Map<string, Child>()

beforeAll(async () => {
  ;[ns, ch] = await Promise.all([startNats(), startClickHouse()])
  store = makeClickHouseStore({ url: ch.url, requestTimeoutMs: 30_000 })
  await migrate(store, loadDeviceSchema())
}, 120_000)
afterAll(async () => {
  await Promise.all([...nodes.values()].map((c) => c.kill("SIGKILL")))
  await store?.close()
  await Promise.all([ns?.cleanup(), ch?.cleanup()])
})

const day = (t: number) => new Date(t).toISOString().slice(0, 10)
const insertDay = async (t: number) => {
  await store.exec(`INSERT INTO telemetry (device_id, seq, ts, ms, ingested) VALUES ('bus-0001', ${t}, '${day(t)} 12:00:00', 0, now())`)
  await store.exec(`INSERT INTO alerts (id, alert_id, device_id, rule, kind, severity, at, at_ms, seq, message, values_json, channels, rule_version, recv_at, ingested)
    VALUES ('${t}', 'a', 'bus-0001', 'r', 'raised', 'info', '${day(t)} 12:00:00', 0, 1, '', '{}', [], 1, now(), now())`)
}
const partitions = async () =>
  new Set((await store.query<{ table: string; partition: string }>(
    "SELECT DISTINCT table, partition FROM system.parts WHERE active AND database = currentDatabase() AND table IN ('telemetry', 'alerts')",
  )).map((p) => `${p.table}:${p.partition}`))
/** Which nodes logged dropping `partition`. */
const droppedBy = (partition: string) =>
  new Set([...nodes].filter(([, c]) => events(c).some((e) => e.event === "retention.dropped" && (e.partitions as string[]).includes(partition))).map(([id]) => id))
/** The node whose latest shard event for shard 0 is a start. */
const shard0Owner = () =>
  [...nodes].find(([, c]) => events(c).filter((e) => e.shard === 0 && (e.event === "shard.start" || e.event === "shard.stop")).at(-1)?.event === "shard.start")?.[0]

test("expired partitions are dropped by exactly one node, and by another after it is killed", async () => {
  const now = Date.now()
  const old1 = now - 60 * 86_400_000
  const recent = now - 86_400_000
  await insertDay(old1)
  await insertDay(recent)
  const d = (t: number) => day(t).replaceAll("-", "")
  expect(await partitions()).toContain(`telemetry:${d(old1)}`)

  const env = testNodeEnv(ns.url, 4, {
    AKIS_CLICKHOUSE__URL: ch.url, AKIS_NODE__ROLES: "worker", AKIS_CLICKHOUSE__RETENTIONDAYS: "30", AKIS_CLICKHOUSE__RETENTIONCHECKMS: "300",
  })
  for (const id of ["r1", "r2"]) {
    nodes.set(id, spawnChild(id, ["bun", join(root, "ops/main-node.ts")], { cwd: root, env: { ...env, AKIS_NODE__ID: id, AKIS_NODE__DATADIR: tempDir("akis-ret-") } }))
  }
  await waitFor("old telemetry and alert partitions dropped", async () => {
    const p = await partitions()
    return !p.has(`telemetry:${d(old1)}`) && !p.has(`alerts:${d(old1).slice(0, 6)}`)
  }, { timeoutMs: 60_000 })
  const p = await partitions()
  expect(p).toContain(`telemetry:${d(recent)}`)
  // The drop is visible in ClickHouse a moment before the node's log line reaches us.
  await waitFor("the drop logged", () => droppedBy(`telemetry:${d(old1)}`).size > 0, { timeoutMs: 5_000 })
  expect(droppedBy(`telemetry:${d(old1)}`).size).toBe(1)

  // Both nodes up and sharing the shards: a new expired day is dropped by shard 0's holder only.
  await waitFor("both nodes hold shards", () => [...nodes.values()].every((c) => events(c).some((e) => e.event === "shard.start")), { timeoutMs: 30_000 })
  const old2 = now - 50 * 86_400_000
  await insertDay(old2)
  await waitFor("second expired day dropped", async () => !(await partitions()).has(`telemetry:${d(old2)}`), { timeoutMs: 30_000 })
  await waitFor("the drop logged", () => droppedBy(`telemetry:${d(old2)}`).size > 0, { timeoutMs: 5_000 })
  await Bun.sleep(1_000) // a few more runs on every node, so a second dropper would have shown itself
  const holder = shard0Owner()
  expect(holder).toBeDefined()
  expect(droppedBy(`telemetry:${d(old2)}`)).toEqual(new Set([holder!]))

  // The holder dies: the node that takes shard 0 over takes the job over.
  await nodes.get(holder!)!.kill("SIGKILL")
  const survivor = [...nodes.keys()].find((id) => id !== holder)!
  await waitFor("shard 0 taken over", () => events(nodes.get(survivor)!).some((e) => e.event === "shard.start" && e.shard === 0 && e.t > now), { timeoutMs: 30_000 })
  const old3 = now - 40 * 86_400_000
  await insertDay(old3)
  await waitFor("third expired day dropped", async () => !(await partitions()).has(`telemetry:${d(old3)}`), { timeoutMs: 30_000 })
  await waitFor("the drop logged", () => droppedBy(`telemetry:${d(old3)}`).size > 0, { timeoutMs: 5_000 })
  expect(droppedBy(`telemetry:${d(old3)}`)).toEqual(new Set([survivor]))
  expect(await partitions()).toContain(`telemetry:${d(recent)}`)
}, 180_000)
