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
import { makeClickHouseStore, migrate, tables, type Store } from "../actors/sink/index.ts"
import { loadDeviceSchema } from "../config/device-schema.ts"
import type { AlertTransition } from "../runtime/index.ts"
import { freePort, spawnChild, startClickHouse, startNats, tempDir, waitFor, type Child, type ClickHouseServer, type NatsServer } from "./harness/index.ts"
import { events, ownership } from "./support/cluster.ts"
import { dropReading, duplicateAlert, duplicateReading, requestedFault } from "./support/faults.ts"
import { ackedKeys, compareSets, describeDiff, setsMatch, wasSent, type DeviceRange } from "./support/sets.ts"
import { historyCounts, installWriteAudit, rangeCheck, storedKey, storedRows, writtenTable } from "./support/stored.ts"

const root = join(import.meta.dir, "..")
const P = 16
const schema = loadDeviceSchema()
let ns: NatsServer
let ch: ClickHouseServer
let store: Store
let dir: string
/** The test's nodes; afterAll kills whatever a failed test left running. */
const nodes = new Map<string, Child>()

beforeAll(async () => {
  ;[ns, ch] = await Promise.all([startNats(), startClickHouse()])
  store = makeClickHouseStore({ url: ch.url, database: "default", user: "default", password: "", requestTimeoutMs: 30_000 })
  // Tables first, then the audit of every row written (before any insert).
  await migrate(store, schema)
  await installWriteAudit(store)
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
    await waitFor("gateways listening", () => [...nodes.values()].every((c) => events(c).some((e) => e.event === "gateway.listening")), { timeoutMs: 120_000 })
      .catch((e) => {
        throw new Error(`${(e as Error).message}\n${[...nodes].map(([id, c]) => `${id}: ${c.output().slice(-1500)}`).join("\n")}`)
      })

    const scenario = join(dir, "scenario.yaml")
    writeFileSync(scenario, "devices: 200\nprefix: bus-\nrate: 2\nduration: 60s\nformat: csv\nanomalies:\n  - { device: bus-0042, at: 5s, field: coolant_temp_c, ramp_to: 125, over: 5s }\n")
    const fleet = spawnChild("loadgen", ["bun", join(root, "ops/cli.ts"), "loadgen", "--scenario", scenario, "--cert-dir", join(dir, "certs"),
      "--gateways", ports.map((p) => `127.0.0.1:${p}`).join(","), "--json", "--ranges"], { cwd: root, env })
    const startedAt = Date.now()

    await Bun.sleep(10_000)
    // The fault must hit something: e1 owns shards (and its gateway serves devices) when killed.
    const e1Shards = ownership("e1", events(nodes.get("e1")!)).filter((iv) => iv.end === Number.POSITIVE_INFINITY)
    expect(e1Shards.length).toBeGreaterThan(0)
    await nodes.get("e1")!.kill("SIGKILL") // mid-stream, mid-batch: its sink had rows queued
    await Bun.sleep(8_000)
    spawnNode("e4") // join
    await Bun.sleep(8_000)
    nodes.get("e2")!.proc.kill("SIGTERM") // drain
    expect(await nodes.get("e2")!.exited).toBe(0)

    // A changed rule set (stricter coolant limit) reaches every live node within 2 s of being stored.
    const appliedBefore = new Map(["e3", "e4"].map((id) => [id, Math.max(0, ...events(nodes.get(id)!).filter((e) => e.event === "rules_applied").map((e) => Number(e.version)))]))
    const rules = join(dir, "rules.yaml")
    writeFileSync(rules, readFileSync(join(root, "config/default.rules.yaml"), "utf8").replace("max_coolant_c: 105", "max_coolant_c: 104"))
    const apply = spawnChild("rules", ["bun", join(root, "ops/cli.ts"), "rules", "apply", rules], { cwd: root, env })
    expect((await apply.exited) === 0 ? "" : apply.output()).toBe("")
    // Measured from the moment the new set was stored (the KV entry's server time; same host clock).
    const kvRules = await new Kvm(await ns.connect()).open("akis_rules")
    const applied = (await kvRules.get("active"))!.created.getTime()
    for (const id of ["e3", "e4"]) {
      const at = await waitFor(`${id} applied the new rules`, () => events(nodes.get(id)!).find((e) => e.event === "rules_applied" && Number(e.version) > appliedBefore.get(id)!)?.t)
      expect(at - applied).toBeGreaterThanOrEqual(0)
      expect(at - applied).toBeLessThan(2_000)
    }

    expect(await fleet.exited).toBe(0)
    const result = JSON.parse(fleet.output().trim().split("\n").pop()!) as { sent: number; acked: number; unacked: number; rejected: number; ranges: DeviceRange[] }
    // Every reading sent was acknowledged (the devices resent across the kill and the drain).
    expect({ unacked: result.unacked, rejected: result.rejected, acked: result.acked }).toEqual({ unacked: 0, rejected: 0, acked: result.sent })
    expect(result.ranges.length).toBe(200)
    const acked = [...ackedKeys(result.ranges)]
    expect(acked.length).toBe(result.acked)
    const sent = wasSent(result.ranges)

    // Wait until the raw table holds every acked (device, seq); a timeout fails the test.
    try {
      await waitFor("ClickHouse holds every acked reading", async () => (await rangeCheck(store, tables.telemetry, result.ranges)).lost === 0, { timeoutMs: 60_000, intervalMs: 1_000 })
    } catch (e) {
      const dump = [...nodes].map(([id, c]) => `${id}: ${events(c).filter((ev) => !/shard\.(start|first|stopping)|gateway$/.test(ev.event)).map((ev) => JSON.stringify(ev)).join("\n")}\n${c.output().split("\n").filter((l) => !l.startsWith("{")).slice(-20).join("\n")}`)
      // The failure carries what the nodes did, not a file somewhere.
      throw new Error(`${(e as Error).message}\ncheck=${JSON.stringify(await rangeCheck(store, tables.telemetry, result.ranges))}\n${dump.join("\n\n")}`)
    }

    // Alert transitions of the run, from the stream (every one, until the stream's last message).
    const js = jetstream(await ns.connect())
    const readAlerts = async () => {
      const c = await js.consumers.get("AKIS_ALERTS", { deliver_policy: DeliverPolicy.All })
      const out: AlertTransition[] = []
      if ((await c.info()).num_pending === 0) return out
      for await (const m of await c.consume()) {
        out.push(m.json<AlertTransition>())
        if (m.info.pending === 0) break
      }
      return out
    }
    // The overheat raised its alert by now (30 s `for` from ~10 s); no other device had a reason to.
    await waitFor("the overheat alert", async () => (await readAlerts()).some((t) => t.device === "bus-0042" && t.rule === "overheating"), { timeoutMs: 30_000, intervalMs: 1_000 })

    // Fault injection (TEST_FAULT), to see the checks below fail.
    const fault = requestedFault()
    const victim = result.ranges[7]!
    if (fault === "drop-reading") await dropReading(store, victim.device, victim.first + 3)
    if (fault === "dup-reading") await duplicateReading(store, schema, victim.device, victim.first + 3)
    if (fault === "dup-alert") await duplicateAlert(await ns.connect(), (await readAlerts()).find((t) => t.device === "bus-0042")!)

    // Readings, compared as sets of (device, seq): on the raw table (every copy; replays after the
    // kill may leave copies there until a merge), as `FINAL` and the history queries see them
    // (exactly once), and as written (the audit table: copies merges already removed count too).
    const raw = compareSets(acked, await storedRows(store), storedKey, { allowed: sent })
    expect(raw.missing + raw.unexpected === 0 ? "" : describeDiff("raw", raw)).toBe("")
    const final = compareSets(acked, await storedRows(store, tables.telemetry, true), storedKey, { allowed: sent })
    expect(setsMatch(final) ? "" : describeDiff("FINAL", final)).toBe("")
    const written = compareSets(acked, await storedRows(store, writtenTable), storedKey, { allowed: sent })
    expect(written.missing + written.unexpected === 0 ? "" : describeDiff("written", written)).toBe("")
    const perDevice = new Map<string, number>()
    for (const r of await storedRows(store, tables.telemetry, true)) perDevice.set(r.device_id, (perDevice.get(r.device_id) ?? 0) + 1)
    const seen = await historyCounts(store, schema, result.ranges.map((r) => r.device), startedAt - 60_000, Date.now() + 60_000)
    expect([...seen].filter(([d, n]) => n !== perDevice.get(d))).toEqual([])
    console.error(`e2e: ${acked.length} acked readings stored once as queries see them; rows written twice: ${written.extraCopies}, copies still in the raw table: ${raw.extraCopies}`)

    // Alert transitions: the expected ones present once, none unexpected (compared as sets of
    // (device, rule, kind)); ids unique; the alerts table holds each id once as queries see it.
    const transitions = await readAlerts()
    const tKey = (t: AlertTransition) => `${t.device}/${t.rule}/${t.kind}`
    const alerts = compareSets(["bus-0042/overheating/raised"], transitions, tKey)
    expect(setsMatch(alerts) ? "" : describeDiff("alert transitions", alerts)).toBe("")
    expect(compareSets(transitions.map((t) => t.id), transitions, (t) => t.id).duplicated).toBe(0)
    const ids = transitions.map((t) => t.id)
    await waitFor("alerts stored", async () => compareSets(ids, await store.query<{ id: string }>("SELECT id FROM alerts"), (r) => r.id).missing === 0, { timeoutMs: 30_000 })
    const storedAlerts = compareSets(ids, await store.query<{ id: string }>("SELECT id FROM alerts FINAL"), (r) => r.id)
    expect(setsMatch(storedAlerts) ? "" : describeDiff("alerts table", storedAlerts)).toBe("")

    // The inspection CLI shows every shard owned by a live node.
    const cluster = spawnChild("ops", ["bun", join(root, "ops/cli.ts"), "cluster", "--json"], { cwd: root, env })
    await cluster.exited
    expect((JSON.parse(cluster.output().trim().split("\n").pop()!) as { unowned: number[] }).unowned).toEqual([])
    for (const id of ["e3", "e4"]) await nodes.get(id)!.kill("SIGTERM")
  }, 300_000)
})
