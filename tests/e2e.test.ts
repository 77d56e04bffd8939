/**
 * The whole pipeline with real processes: nats-server, ClickHouse 18.16, 3 akis nodes (worker +
 * gateway) and 200 simulated buses over mTLS with an injected overheat. During the run one node is
 * SIGKILLed mid-batch, one joins, one is drained and a changed rule set is applied.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { jetstream, DeliverPolicy } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { makeClickHouseStore, type Store } from "../actors/sink/index.ts"
import { freePort, spawnChild, startClickHouse, startNats, tempDir, waitFor, type Child, type ClickHouseServer, type NatsServer } from "./harness/index.ts"
import { events } from "./support/cluster.ts"

const root = join(import.meta.dir, "..")
const P = 16
let ns: NatsServer
let ch: ClickHouseServer
let store: Store
let dir: string
/** The test's nodes; afterAll kills whatever a failed test left running. */
const nodes = new Map<string, Child>()

beforeAll(async () => {
  ;[ns, ch] = await Promise.all([startNats(), startClickHouse()])
  store = makeClickHouseStore({ url: ch.url, database: "default", user: "default", password: "", requestTimeoutMs: 30_000 })
  dir = tempDir("akis-e2e-")
  const certs = spawnChild("certs", ["bun", join(root, "ops/cli.ts"), "certs", "init", "--dir", join(dir, "certs"), "--devices", "200"], { cwd: root })
  expect(await certs.exited).toBe(0)
}, 120_000)
afterAll(async () => {
  await Promise.all([...nodes.values()].map((c) => c.kill("SIGKILL")))
  await store?.close()
  await Promise.all([ns?.cleanup(), ch?.cleanup()])
})

describe("end to end", () => {
  test("200 buses through kill, join, drain and a rule change: every reading stored once, every alert transition once", async () => {
    const env = {
      AKIS_NATS__SERVERS: ns.url, AKIS_CLICKHOUSE__URL: ch.url, AKIS_GATEWAY__CERTDIR: join(dir, "certs"),
      AKIS_CLUSTER__PARTITIONS: String(P), AKIS_NODE__HEARTBEATMS: "500", AKIS_NODE__SUSPICIONMS: "2000", AKIS_NODE__CHECKPOINTMS: "1000",
      AKIS_SINK__FLUSHMS: "200", AKIS_NODE__DATADIR: dir,
    }
    const ports: number[] = []
    const spawnNode = (id: string) => {
      const port = freePort()
      ports.push(port)
      nodes.set(id, spawnChild(id, ["bun", join(root, "ops/main-node.ts")], { cwd: root, env: { ...env, AKIS_NODE__ID: id, AKIS_GATEWAY__PORT: String(port) } }))
      return port
    }
    for (const id of ["e1", "e2", "e3"]) spawnNode(id)
    await waitFor("gateways listening", () => [...nodes.values()].every((c) => events(c).some((e) => e.event === "gateway.listening")), { timeoutMs: 60_000 })

    const scenario = join(dir, "scenario.yaml")
    writeFileSync(scenario, "devices: 200\nprefix: bus-\nrate: 2\nduration: 60s\nformat: csv\nanomalies:\n  - { device: bus-0042, at: 5s, field: coolant_temp_c, ramp_to: 125, over: 5s }\n")
    const fleet = spawnChild("loadgen", ["bun", join(root, "ops/cli.ts"), "loadgen", "--scenario", scenario, "--cert-dir", join(dir, "certs"),
      "--gateways", ports.map((p) => `127.0.0.1:${p}`).join(","), "--json"], { cwd: root, env })

    await Bun.sleep(10_000)
    await nodes.get("e1")!.kill("SIGKILL") // mid-stream, mid-batch: its sink had rows queued
    await Bun.sleep(8_000)
    spawnNode("e4") // join
    await Bun.sleep(8_000)
    nodes.get("e2")!.proc.kill("SIGTERM") // drain
    expect(await nodes.get("e2")!.exited).toBe(0)

    // A changed rule set (stricter coolant limit) reaches every live node within 2 s.
    const rules = join(dir, "rules.yaml")
    writeFileSync(rules, readFileSync(join(root, "config/default.rules.yaml"), "utf8").replace("max_coolant_c: 105", "max_coolant_c: 104"))
    const apply = spawnChild("rules", ["bun", join(root, "ops/cli.ts"), "rules", "apply", rules], { cwd: root, env })
    expect(await apply.exited).toBe(0)
    // Measured from the moment the new set was stored (the KV entry's server time).
    const kvRules = await new Kvm(await ns.connect()).open("akis_rules")
    const applied = (await kvRules.get("active"))!.created.getTime()
    for (const id of ["e3", "e4"]) {
      const at = await waitFor(`${id} applied the new rules`, () => events(nodes.get(id)!).find((e) => e.event === "rules_applied" && e.t >= applied - 1000)?.t)
      expect(at - applied).toBeLessThan(2_000)
    }

    expect(await fleet.exited).toBe(0)
    const result = JSON.parse(fleet.output().trim().split("\n").pop()!) as { sent: number; acked: number; unacked: number }
    expect(result.acked).toBeGreaterThan(20_000)

    // Every acknowledged reading is in ClickHouse, each (device, seq) exactly once as queries see it.
    const stored = async () => (await store.query<{ n: number; u: number }>("SELECT count() AS n, uniqExact(device_id, seq) AS u FROM telemetry FINAL"))[0]!
    try {
      await waitFor("ClickHouse caught up", async () => Number((await stored()).u) >= result.acked, { timeoutMs: 60_000, intervalMs: 1_000 })
    } catch (e) {
      const perDevice = await store.query<{ device_id: string; n: number; mx: number }>(
        "SELECT device_id, uniqExact(seq) AS n, max(seq) AS mx FROM telemetry GROUP BY device_id ORDER BY n - mx LIMIT 5")
      const dump = [...nodes].map(([id, c]) => `${id}: ${events(c).filter((ev) => !/shard\.(start|first|stopping)|gateway$/.test(ev.event)).map((ev) => JSON.stringify(ev)).join("\n")}\n${c.output().split("\n").filter((l) => !l.startsWith("{")).slice(-20).join("\n")}`)
      writeFileSync("/tmp/e2e-dump.txt", `stored=${JSON.stringify(await stored())} result=${JSON.stringify(result)}\nworst devices=${JSON.stringify(perDevice)}\n${dump.join("\n\n")}`)
      throw e
    }
    const s = await stored()
    expect(Number(s.n)).toBe(Number(s.u))
    expect(Number(s.u)).toBeLessThanOrEqual(result.sent)

    // Alert transitions: each id exactly once in the stream; the injected overheat was raised once.
    const js = jetstream(await ns.connect())
    const c = await js.consumers.get("AKIS_ALERTS", { deliver_policy: DeliverPolicy.All })
    const info = await c.info()
    const ids: string[] = []
    const transitions: Array<{ id: string; device: string; rule: string; kind: string }> = []
    if (info.num_pending > 0) {
      for await (const m of await c.consume()) {
        const t = m.json<{ id: string; device: string; rule: string; kind: string }>()
        ids.push(t.id)
        transitions.push(t)
        if (m.info.pending === 0) break
      }
    }
    expect(new Set(ids).size).toBe(ids.length)
    expect(transitions.filter((t) => t.device === "bus-0042" && t.rule === "overheating" && t.kind === "raised").length).toBe(1)
    const [a] = await store.query<{ n: number; u: number }>("SELECT count() AS n, uniqExact(id) AS u FROM alerts FINAL")
    await waitFor("alerts stored", async () => Number((await store.query<{ u: number }>("SELECT uniqExact(id) AS u FROM alerts"))[0]!.u) === ids.length, { timeoutMs: 30_000 })
    expect(Number(a!.n)).toBe(Number(a!.u))

    // The inspection CLI shows every shard owned by a live node.
    const cluster = spawnChild("ops", ["bun", join(root, "ops/cli.ts"), "cluster", "--json"], { cwd: root, env })
    await cluster.exited
    expect((JSON.parse(cluster.output().trim().split("\n").pop()!) as { unowned: number[] }).unowned).toEqual([])
    for (const id of ["e3", "e4"]) await nodes.get(id)!.kill("SIGTERM")
  }, 300_000)
})
