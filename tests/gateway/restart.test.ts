/**
 * Devices that restart their numbering, end to end: one akis node (worker + gateway), nats-server
 * and ClickHouse; devices are plain node:tls clients (no akis code on the device side). Every
 * reading a device got `ACK` for must be in ClickHouse exactly once, identified by
 * (device, boot, seq); resends are stored once; a seq that goes back on one connection without a
 * later ts is refused with `seq_regress`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { connect, type TLSSocket } from "node:tls"
import { makeClickHouseStore, migrate, type Store } from "../../actors/sink/index.ts"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { readCrl } from "../../gateway/crl.ts"
import { issueCrl, pkiPaths } from "../../ops/certs/pki.ts"
import { freePort, spawnChild, startClickHouse, startNats, tempDir, waitFor, type Child, type ClickHouseServer, type NatsServer } from "../harness/index.ts"
import { events } from "../support/cluster.ts"

const root = join(import.meta.dir, "..", "..")
let ns: NatsServer
let ch: ClickHouseServer
let store: Store
let node: Child | undefined
let certs: string
let port: number

beforeAll(async () => {
  ;[ns, ch] = await Promise.all([startNats(), startClickHouse()])
  store = makeClickHouseStore({ url: ch.url, database: "default", user: "default", password: "", requestTimeoutMs: 30_000 })
  const dir = tempDir("akis-restart-")
  certs = join(dir, "certs")
  const init = spawnChild("certs", ["bun", join(root, "ops/cli.ts"), "certs", "init", "--dir", certs, "--devices", "4"], { cwd: root })
  expect(await init.exited).toBe(0)
  // A CRL two days from its next update: the node (CA key in certDir) must re-issue it at start.
  await issueCrl(certs, { nextUpdate: new Date(Date.now() + 2 * 86_400_000).toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z" })
  port = freePort()
  node = spawnChild("n1", ["bun", join(root, "ops/main-node.ts")], {
    cwd: root,
    env: {
      AKIS_NATS__SERVERS: ns.url, AKIS_CLICKHOUSE__URL: ch.url, AKIS_GATEWAY__CERTDIR: certs, AKIS_GATEWAY__PORT: String(port),
      AKIS_CLUSTER__PARTITIONS: "4", AKIS_NODE__ID: "n1", AKIS_NODE__DATADIR: dir, AKIS_SINK__FLUSHMS: "200", AKIS_NODE__CHECKPOINTMS: "1000",
    },
  })
  await waitFor("gateway listening", () => events(node!).some((e) => e.event === "gateway.listening"), { timeoutMs: 60_000 })
}, 120_000)
afterAll(async () => {
  await node?.kill("SIGKILL")
  await store?.close()
  await Promise.all([ns?.cleanup(), ch?.cleanup()])
})

/** A device written without akis code: node:tls, one line per reading, answers collected. */
const device = async (id: string) => {
  const p = pkiPaths(certs)
  const s: TLSSocket = connect({
    host: "127.0.0.1", port, servername: "localhost", ca: readFileSync(p.caCert), cert: readFileSync(p.deviceCert(id)), key: readFileSync(p.deviceKey(id)),
  })
  await new Promise<void>((ok, fail) => s.once("secureConnect", ok).once("error", fail))
  const lines: string[] = []
  let partial = ""
  s.on("data", (d: Buffer) => {
    const parts = (partial + d.toString("utf8")).split("\n")
    partial = parts.pop()!
    lines.push(...parts)
  })
  s.on("error", () => {})
  return {
    lines,
    send: (text: string) => s.write(text),
    waitLine: (re: RegExp) => waitFor(`${id}: a line matching ${re} (got ${JSON.stringify(lines.slice(-3))})`, () => lines.find((l) => re.test(l))),
    close: () => new Promise<void>((ok) => s.end(ok)),
  }
}

/**
 * Readings the test was ACKed for, as `device/boot/seq/ts` (boot -1: none declared). With a boot,
 * (device, boot, seq) identifies a reading; a v1 device repeats seqs, so ts tells its counts apart.
 */
const acked = new Set<string>()
const t0 = Date.now() - 60_000
const json = (seq: number, ts: number) => `{"seq":${seq},"ts":${ts},"speed_kmh":${seq}}\n`
const csv = (id: string, seq: number, ts: number) => `${id},${seq},${ts}${",".repeat(48)}\n`

/** Sends readings (seq, ts offset) on one connection, waits for the ACK of the last, records them. */
const sendRun = async (id: string, boot: number | undefined, run: ReadonlyArray<readonly [number, number]>, fmt: "json" | "csv" = "json") => {
  const d = await device(id)
  if (boot !== undefined) {
    d.send(`{"hello":{"boot":${boot}}}\n`)
    expect(await d.waitLine(/^HELLO/)).toBe(`HELLO v=2 boot=${boot}`)
  }
  for (const [seq, dt] of run) d.send(fmt === "json" ? json(seq, t0 + dt) : csv(id, seq, t0 + dt))
  const last = run.at(-1)![0]
  await d.waitLine(new RegExp(`^ACK ${last}$`))
  for (const [seq, dt] of run) acked.add(`${id}/${boot ?? -1}/${seq}/${t0 + dt}`)
  await d.close()
  return d
}

describe("devices that restart their numbering", () => {
  test("every ACKed reading is stored exactly once by (device, boot, seq); resends once; a regress on one connection is refused", async () => {
    // v2 device: boot 1 counts 1..5; it reboots as boot 2 (CSV now) and counts 1..5 again; reconnects and resends 4, 5 with 6.
    await sendRun("bus-0001", 1, [[1, 100], [2, 200], [3, 300], [4, 400], [5, 500]])
    await sendRun("bus-0001", 2, [[1, 1100], [2, 1200], [3, 1300], [4, 1400], [5, 1500]], "csv")
    await sendRun("bus-0001", 2, [[4, 1400], [5, 1500], [6, 1600]])
    // v1 device (never says hello): reboots and counts from 1 again, its clock going on; then resends 2, 3 with 4.
    await sendRun("bus-0002", undefined, [[1, 100], [2, 200], [3, 300], [4, 400], [5, 500]])
    await sendRun("bus-0002", undefined, [[1, 2100], [2, 2200], [3, 2300]])
    await sendRun("bus-0002", undefined, [[2, 2200], [3, 2300], [4, 2400]])
    // The issue's reproduction on one connection: after seq 3, seq 2 again (not later) → seq_regress, not ACK.
    const d = await device("bus-0003")
    d.send(json(1, t0 + 100) + json(2, t0 + 200) + json(3, t0 + 300) + json(2, t0 + 200))
    expect(await d.waitLine(/^ERR/)).toStartWith("ERR seq_regress seq=2 ")
    await d.waitLine(/^ACK 3$/)
    expect(d.lines.filter((l) => l.startsWith("ACK"))).toEqual(["ACK 3"])
    // …and what the refusal tells the device to do works: a hello, then the count restarts.
    d.send(`{"hello":{"boot":9}}\n${json(1, t0 + 150)}${json(2, t0 + 250)}`)
    await d.waitLine(/^ACK 2$/)
    await d.close()
    for (const [seq, dt] of [[1, 100], [2, 200], [3, 300]] as const) acked.add(`bus-0003/-1/${seq}/${t0 + dt}`)
    for (const [seq, dt] of [[1, 150], [2, 250]] as const) acked.add(`bus-0003/9/${seq}/${t0 + dt}`)

    // ClickHouse has no boot column: its key is (device_id, ts, seq); map rows back to (device, boot, seq) by ts.
    const byTs = new Map([...acked].map((k) => {
      const [dev, , seq, ts] = k.split("/")
      return [`${dev}/${ts}/${seq}`, k] as const
    }))
    const rows = async () => store.query<{ device_id: string; seq: number; t: number }>(
      "SELECT device_id, seq, toUInt64(ts) * 1000 + ms AS t FROM telemetry FINAL WHERE device_id IN ('bus-0001', 'bus-0002', 'bus-0003')")
    // On a timeout the set comparison below shows what is missing.
    await waitFor("ClickHouse holds every acked reading", async () => (await rows()).length >= acked.size, { timeoutMs: 30_000, intervalMs: 500 }).catch(() => {})
    const stored = (await rows()).map((r) => byTs.get(`${r.device_id}/${Number(r.t)}/${Number(r.seq)}`) ?? `unexpected ${r.device_id}/${r.t}/${r.seq}`)
    expect(new Set(stored)).toEqual(acked)
    expect(stored.length).toBe(acked.size) // FINAL: no (device, ts, seq) collapsed into another, none twice
    // Before merges too, nothing was written twice (a resend would have been stored again by the actor).
    const [raw] = await store.query<{ n: number }>("SELECT count() AS n FROM telemetry WHERE device_id IN ('bus-0001', 'bus-0002', 'bus-0003')")
    expect(Number(raw!.n)).toBe(acked.size)
  }, 120_000)

  test("the node re-issues a CRL due within gateway.crlRenewDays (the CA key is in certDir)", async () => {
    await waitFor("crl re-issued", () => events(node!).find((e) => e.event === "crl" && String((e as { line?: string }).line).includes("re-issued")))
    const p = pkiPaths(certs)
    expect((await readCrl(p.crl, p.caCert)).nextUpdate! - Date.now()).toBeGreaterThan(20 * 86_400_000)
  })

  test("migrate warns about a telemetry table created with the older key, which collapses restarted seqs within a second", async () => {
    const schema = loadDeviceSchema()
    expect((await migrate(store, schema)).warnings).toEqual([])
    await store.exec("CREATE DATABASE IF NOT EXISTS oldkey")
    await store.exec(`CREATE TABLE oldkey.telemetry (device_id String, seq UInt64, ts DateTime('UTC'), ms UInt16, ingested DateTime('UTC'))
      ENGINE = ReplacingMergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (device_id, ts, seq)`)
    const old = makeClickHouseStore({ url: ch.url, database: "oldkey", user: "default", password: "", requestTimeoutMs: 30_000 })
    try {
      expect((await migrate(old, schema)).warnings.join()).toContain("older sorting key")
    } finally {
      await old.close()
    }
  })
})
