/**
 * The embedded store (`clickhouse.url: chdb:<dir>`) end to end. chDB locks its directory per
 * process, so the node holds it and everything else asks the node over NATS (akis.history):
 * ops/up's live summary and history queries. Non-default ports throughout.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { join } from "node:path"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { alerts, makeChdbStore, makeSink, migrate, readings, writeAlerts } from "../actors/sink/index.ts"
import type { AlertTransition } from "../runtime/alert.ts"
import { askHistory, HistoryRequestFailed, serveHistory, type StoreSummary } from "../ops/lib/history-service.ts"
import { natsBus } from "../runtime/nats/bus.ts"
import { maxPayloadOf } from "../runtime/nats/client.ts"
import { freePort, spawnChild, startNats, tempDir, type Child } from "./harness/index.ts"
import { syntheticBatches } from "./support/synthetic-batches.ts"

const root = join(import.meta.dir, "..")
const schema = loadDeviceSchema()
const started: Child[] = []
afterAll(async () => {
  for (const c of started) c.proc.kill("SIGTERM") // ops/up stops its servers and node on SIGTERM
  await Promise.race([Promise.all(started.map((c) => c.exited)), Bun.sleep(20_000)])
})

const upEnv = (dir: string) => ({
  AKIS_CLICKHOUSE__URL: `chdb:${join(dir, "chdb")}`, AKIS_NATS__SERVERS: `nats://127.0.0.1:${freePort()}`,
  AKIS_GATEWAY__PORT: String(freePort()), AKIS_NODE__DATADIR: dir, AKIS_GATEWAY__CERTDIR: join(dir, "certs"),
})

describe("embedded store under ops/up", () => {
  test("one node holds the chDB directory, the live summary reads it over NATS, and what it shows is what is stored", async () => {
    const dir = tempDir("akis-embedded-")
    const up = spawnChild("ops-up", ["bun", join(root, "ops/up.ts"), "--devices", "3", "--rate", "2", "--duration", "8s", "--once"], { cwd: root, env: upEnv(dir) })
    started.push(up)
    const code = await up.exited
    const out = up.output()
    expect({ code, tail: code === 0 ? "" : out.slice(-3000) }).toEqual({ code: 0, tail: "" })
    expect(out).not.toContain("Cannot lock file")
    expect(out).not.toMatch(/node-1 exited/)
    expect(out).toContain("started 1 node(s): node-1")
    // Once the first screen is drawn, no refresh fails (before it, the node may not have created its streams yet).
    expect(out.slice(out.indexOf("\x1b[2J")).split("\n").filter((l) => /\[akis up\]\S* summary: /.test(l))).toEqual([])
    const summary = /last summary: rows stored (\d+), alerts raised (\d+), cleared (\d+), readings processed (\d+)/.exec(out)
    expect(summary).not.toBeNull()
    const stored = Number(summary![1])
    expect(stored).toBeGreaterThan(0)

    // ops/up and its node have exited, so the directory can be opened here: the summary told the truth.
    const store = makeChdbStore(join(dir, "chdb"))
    const [row] = await store.query<{ n: number; readings: number; devices: number }>(
      "SELECT count() AS n, uniqExact(device_id, seq) AS readings, uniqExact(device_id) AS devices FROM telemetry",
    ).finally(() => store.close())
    // Every ACKed reading is in the directory, and the summary's count is the directory's.
    const acked = Number(/(\d+) readings ACKed/.exec(out)?.[1])
    expect(acked).toBeGreaterThan(0)
    expect({ rows: Number(row!.n), readings: Number(row!.readings), devices: Number(row!.devices) }).toEqual({ rows: stored, readings: acked, devices: 3 })
  }, 120_000)

  test("more than one node on the embedded store is refused with the reason", async () => {
    const dir = tempDir("akis-embedded-")
    const up = spawnChild("ops-up", ["bun", join(root, "ops/up.ts"), "--nodes", "3", "--once"], { cwd: root, env: upEnv(dir) })
    started.push(up)
    expect(await up.exited).toBe(2)
    expect(up.output()).toContain("is opened by one process only: use --nodes 1")
  })
})

describe("history over NATS (akis.history)", () => {
  test("answers summary, readings and alerts exactly as the store does; bad input and oversized results are refused and counted", async () => {
    // A small max_payload makes an all-fields reading history too large for one reply.
    const nats = await startNats({ configExtra: "max_payload: 16384" })
    const nc = await nats.connect()
    const store = makeChdbStore(tempDir("akis-chdb-"))
    await migrate(store, schema)
    const start = Date.UTC(2026, 10, 20, 10, 0, 0)
    const batches = syntheticBatches(schema, { devices: 4, perDevice: 120, startMs: start, intervalMs: 500, batchSize: 60 })
    const sink = makeSink(store, schema, { batchRows: 1000, flushMs: 50, maxInflight: 2, retryMinMs: 50, retryMaxMs: 500, fence: async () => true })
    batches.forEach((b, k) => {
      for (let i = 0; i < b.ids.length; i++) sink.add(b, i, k + 1)
      sink.processed(k + 1)
    })
    await sink.flush()
    await sink.close()
    const raised: AlertTransition = {
      id: "bus-0001:overheat:5:raised:critical", alertId: "bus-0001:overheat:5", device: "bus-0001", rule: "overheat", kind: "raised",
      severity: "critical", at: start + 2500, seq: 5, message: "hot", values: { coolant: 112.4 }, channels: ["log"], ruleVersion: 1, recvAt: start + 2510,
    }
    await writeAlerts(store, [raised], start)
    const bus = natsBus(nc)
    const service = serveHistory(bus, store, schema, maxPayloadOf(nc))

    expect(await askHistory<StoreSummary>(bus, { op: "summary" })).toEqual({ stored: 480, raised: 1, cleared: 0 })
    const q = { device: "bus-0001", from: start, to: start + 3_600_000, fields: ["engine_rpm", "coolant_temp_c"] }
    expect(await askHistory(bus, { op: "readings", query: q })).toEqual(JSON.parse(JSON.stringify(await readings(store, schema, q))))
    const aq = { from: start, to: start + 3_600_000 }
    expect(await askHistory(bus, { op: "alerts", query: aq })).toEqual(JSON.parse(JSON.stringify(await alerts(store, aq))))

    const refused = await askHistory(bus, { op: "readings", query: { ...q, device: "../etc" } }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(HistoryRequestFailed)
    expect(refused).toMatchObject({ code: "input", field: "device" })
    const big = await askHistory(bus, { op: "readings", query: { device: "bus-0001", from: start, to: start + 3_600_000 } }).catch((e: unknown) => e)
    expect(big).toMatchObject({ code: "too_large" })
    expect((big as Error).message).toContain("over NATS max_payload (16384)")
    expect(service.counters).toEqual({ answered: 3, refused: 2, failed: 0 })

    service.stop()
    await store.close()
    await nats.cleanup()
  }, 60_000)
})
