/**
 * `ops/up`: a local akis with a simulated fleet. Creates the fleet PKI if absent, starts
 * ClickHouse and nats-server (data under .akis/), N nodes and the fleet simulator, then shows a
 * live summary. Ctrl-C stops everything; running it again resumes from the stored state.
 *   ops/up [--nodes 3] [--devices 1000] [--rate 2] [--duration 1h] [--scenario file]
 */
import { parseArgs } from "node:util"
import { existsSync } from "node:fs"
import { join, resolve } from "node:path"
import { makeStore } from "../actors/sink/index.ts"
import { ConfigInvalid, loadConfig } from "../config/index.ts"
import { clusterView } from "./lib/cluster-view.ts"
import { opsContext, type OpsContext } from "./lib/context.ts"
import { startLocalCluster } from "./lib/launcher.ts"
import { spawnChild, startClickHouse, type ClickHouseServer } from "./lib/servers/index.ts"
import { renderSummary, type Sample } from "./lib/summary.ts"

const root = resolve(import.meta.dir, "..")
const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "3" }, devices: { type: "string", default: "1000" }, rate: { type: "string", default: "2" },
    duration: { type: "string", default: "1h" }, scenario: { type: "string", default: join(root, "ops/loadgen/scenarios/overheat.yaml") },
    config: { type: "string" },
  },
})
const say = (m: string) => process.stderr.write(`\x1b[1m[akis up]\x1b[0m ${m}\n`)
const num = (name: string, v: string | undefined, min: number, max: number) => {
  const n = Number(v)
  if (!Number.isFinite(n) || n < min || n > max) {
    say(`--${name} must be a number from ${min} to ${max} (got '${v}')`)
    process.exit(2)
  }
  return n
}
const nodes = num("nodes", values.nodes, 1, 16)
const devices = num("devices", values.devices, 1, 20_000)
const rate = num("rate", values.rate, 0.1, 100)

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig({ file: values.config })
} catch (e) {
  say(e instanceof ConfigInvalid ? e.message : String(e))
  process.exit(1)
}
const dataDir = resolve(root, config.node.dataDir)
const ops = (args: string[]) => spawnChild("ops", ["bun", join(root, "ops/cli.ts"), ...args], { cwd: root })

// --- Certificates: created once, kept under .akis/certs ---
const certDir = resolve(root, config.gateway.certDir)
if (!existsSync(join(certDir, "ca.crt"))) {
  say(`creating the fleet CA, gateway and ${devices} device certificates in ${certDir}`)
  const c = ops(["certs", "init", "--dir", certDir, "--devices", String(devices)])
  if ((await c.exited) !== 0) {
    say(`ops certs init failed:\n${c.output()}`)
    process.exit(1)
  }
}

// --- ClickHouse: use the configured one if it answers, else start one under .akis/clickhouse ---
let clickhouse: ClickHouseServer | undefined
const chUrl = new URL(config.clickhouse.url.startsWith("chdb:") ? "http://127.0.0.1:8123" : config.clickhouse.url)
const chUp = await fetch(`${chUrl.origin}/ping`).then((r) => r.ok, () => false)
if (!config.clickhouse.url.startsWith("chdb:") && !chUp) {
  say(`starting clickhouse-server on ${chUrl.origin} (data in ${join(dataDir, "clickhouse")})`)
  // Niceness 10: on a machine shared with the pipeline, ClickHouse's merges yield to the
  // latency-sensitive gateways and actors (docs/benchmarks-history.md, end to end).
  clickhouse = await startClickHouse({ httpPort: Number(chUrl.port || 8123), dir: join(dataDir, "clickhouse"), nice: 10 })
}

// --- NATS + nodes + fleet ---
const cluster = await startLocalCluster({ config, nodes, env: values.config ? { AKIS_CONFIG: values.config } : {}, log: say })
say(`starting the fleet simulator: ${devices} devices × ${rate} Hz for ${values.duration} (scenario ${values.scenario})`)
const fleet = ops(["loadgen", "--scenario", values.scenario!, "--devices", String(devices), "--rate", String(rate), "--duration", values.duration!, "--gateways", cluster.gateways().join(",")])

// --- Live summary ---
let ctx: OpsContext | undefined
const store = makeStore(config.clickhouse)
let prev: Sample | undefined
let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  say("stopping: fleet, nodes (drain), servers ...")
  await fleet.kill("SIGTERM")
  await ctx?.close().catch(() => {})
  await cluster.stop()
  await clickhouse?.stop()
  await store.close().catch(() => {})
  process.exit(0)
}
process.on("SIGINT", stop)
process.on("SIGTERM", stop)
fleet.exited.then((code) => {
  if (!stopping) say(`fleet simulator finished (exit ${code}); the cluster keeps running, Ctrl-C stops it`)
})

for (;;) {
  await Bun.sleep(2_000)
  if (stopping) break
  try {
    ctx ??= await opsContext(values.config)
    const view = await clusterView(ctx)
    const [rows] = await store.query<{ n: number }>("SELECT count() AS n FROM telemetry")
    const [open] = await store.query<{ raised: number; cleared: number }>(
      "SELECT countIf(kind = 'raised') AS raised, countIf(kind = 'cleared') AS cleared FROM (SELECT kind FROM alerts FINAL)",
    )
    const readingsIn = await readingsProcessed(ctx, view.members.map((m) => m.id))
    const sample: Sample = { t: Date.now(), readingsIn, stored: Number(rows?.n ?? 0), raised: Number(open?.raised ?? 0), cleared: Number(open?.cleared ?? 0) }
    const fleetLine = fleet.output().split(/[\r\n]/).filter((l) => l.trim()).pop() ?? ""
    process.stdout.write("\x1b[2J\x1b[H" + renderSummary(view, sample, prev, fleetLine) + "\n")
    prev = sample
  } catch (e) {
    say(`summary: ${(e as Error).message}`)
  }
}

/** Sum of readings every node's shard hosts have processed (from `akis.ctl.stats.<id>`). */
async function readingsProcessed(c: OpsContext, ids: string[]): Promise<number> {
  let total = 0
  await Promise.all(ids.map(async (id) => {
    try {
      const r = await c.nats.nc.request(`akis.ctl.stats.${id}`, undefined, { timeout: 1_000 })
      const body = JSON.parse(new TextDecoder().decode(r.data)) as { shards: Array<{ readings: number }> }
      for (const s of body.shards) total += s.readings
    } catch {}
  }))
  return total
}
