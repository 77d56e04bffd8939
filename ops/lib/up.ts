/**
 * `ops up` (`ops/up`): a local akis with a simulated fleet. Creates the fleet PKI if absent, starts
 * ClickHouse and nats-server (data under .akis/), N nodes and the fleet simulator, then shows a
 * live summary. Ctrl-C stops everything; running it again resumes from the stored state.
 *   ops/up [--nodes N (default: one per core, 2–3)] [--devices 1000] [--rate 2] [--duration 1h] [--scenario file] [--once] [--no-proxy]
 * Nodes also take the api role; nginx (ops/nginx/akis.conf) serves the API over HTTPS and passes
 * device TCP through to the gateways (--no-proxy: no nginx).
 * With `clickhouse.url: chdb:<dir>` (embedded store) it runs one node, which holds the store, and
 * reads the summary from it over NATS (history-service.ts): chDB allows one process per directory.
 */
import { existsSync, readdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { makeStore, type Store } from "../../actors/sink/index.ts"
import { ConfigInvalid, loadConfig } from "../../config/index.ts"
import { BadConfig, CommandFailed, UsageError } from "./cli/errors.ts"
import { clusterView } from "./cluster-view.ts"
import { opsContext, type OpsContext } from "./context.ts"
import { askHistory, HistoryRequestFailed, storeSummary, type StoreSummary } from "./history-service.ts"
import { noJetStreamMessage, probeNats, startLocalCluster, type LocalCluster } from "./launcher.ts"
import { spawnChild, startClickHouse, startNginx, type ClickHouseServer, type Nginx } from "./servers/index.ts"
import { renderSummary, type Sample } from "./summary.ts"
import { defaultNodeCount } from "./layout.ts"
import { NodeStats } from "../../runtime/wire.ts"
import { NoAnswer, StreamNotFound } from "../../runtime/errors.ts"

const root = resolve(import.meta.dir, "..", "..")
const say = (m: string) => process.stderr.write(`\x1b[1m[akis up]\x1b[0m ${m}\n`)

/** `ops up`'s flags, checked by the command. */
export interface UpOptions {
  readonly nodes: number | undefined
  readonly devices: number
  readonly rate: number
  readonly duration: string
  readonly scenario: string
  readonly config: string | undefined
  /** Stop everything once the fleet's --duration is over (scripted runs and tests). */
  readonly once: boolean
  readonly proxy: boolean
}

/** A running `ops up`: `finished` settles once everything is stopped (by `stop()` or by --once). */
export interface UpSession {
  readonly finished: Promise<void>
  stop(): Promise<void>
}

const opsCli = (args: string[]) => spawnChild("ops", ["bun", join(root, "ops/cli.ts"), ...args], { cwd: root })

/**
 * The fleet CA, the gateway's certificate and one certificate per simulated device in `certDir`:
 * created on the first run; on a later run with a larger fleet, only the missing device
 * certificates are issued (existing ones are kept, so devices of the last run keep their identity).
 */
export const ensureFleetCerts = async (certDir: string, devices: number, log: (m: string) => void): Promise<void> => {
  const run = async (args: string[], what: string) => {
    const c = opsCli(args)
    if ((await c.exited) !== 0) throw new CommandFailed({ message: `${what} failed:\n${c.output()}` })
  }
  if (!existsSync(join(certDir, "ca.crt"))) {
    log(`creating the fleet CA, gateway and ${devices} device certificates in ${certDir}`)
    return run(["certs", "init", "--dir", certDir, "--devices", String(devices)], "ops certs init")
  }
  const deviceDir = join(certDir, "devices")
  const have = existsSync(deviceDir) ? readdirSync(deviceDir).filter((f) => f.endsWith(".crt")).length : 0
  if (have >= devices) return
  log(`issuing ${devices - have} more device certificates in ${certDir} (${have} exist, the fleet has ${devices})`)
  await run(["certs", "devices", "--dir", certDir, "--devices", String(devices)], "ops certs devices")
}

/** The default scenario of `ops up`. */
export const defaultUpScenario = join(root, "ops/loadgen/scenarios/overheat.yaml")

/** Starts servers, nodes, nginx and the fleet, and refreshes the summary until stopped. Fails with a tagged error before anything runs. */
export const startUp = async (values: UpOptions): Promise<UpSession> => {
  const { devices, rate } = values
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig({ file: values.config })
  } catch (e) {
    throw e instanceof ConfigInvalid ? new BadConfig({ message: e.message }) : e
  }
  const embedded = config.clickhouse.url.startsWith("chdb:")
  if (embedded && values.nodes !== undefined && values.nodes !== 1) {
    throw new UsageError({ message: `the embedded store (${config.clickhouse.url}) is opened by one process only: use --nodes 1, or a ClickHouse server (clickhouse.url)` })
  }
  const nodes = values.nodes ?? (embedded ? 1 : defaultNodeCount())
  const dataDir = resolve(root, config.node.dataDir)

  // --- NATS: refuse one without JetStream before anything is created or started ---
  const natsProbe = await probeNats(config.nats.servers, config.nats)
  if (natsProbe.state === "no-jetstream") throw new CommandFailed({ message: noJetStreamMessage(config.nats.servers, natsProbe.detail) })

  // --- Certificates: created once, kept under .akis/certs ---
  const certDir = resolve(root, config.gateway.certDir)
  await ensureFleetCerts(certDir, devices, say)

  // --- ClickHouse: use the configured one if it answers, else start one under .akis/clickhouse ---
  let clickhouse: ClickHouseServer | undefined
  const chUrl = new URL(embedded ? "http://127.0.0.1:8123" : config.clickhouse.url)
  const chUp = !embedded && await fetch(`${chUrl.origin}/ping`).then((r) => r.ok, () => false)
  if (embedded) say(`embedded store (chDB) in ${config.clickhouse.url.slice(5)}, held by the node; the summary asks it over NATS`)
  else if (!chUp) {
    say(`starting clickhouse-server on ${chUrl.origin} (data in ${join(dataDir, "clickhouse")})`)
    // Niceness 10: on a machine shared with the pipeline, ClickHouse's merges yield to the
    // latency-sensitive gateways and actors (docs/benchmarks-history.md, end to end).
    clickhouse = await startClickHouse({ httpPort: Number(chUrl.port || 8123), dir: join(dataDir, "clickhouse"), nice: 10 })
  }

  // --- NATS + nodes + fleet ---
  // Every local node also takes the notifier role (one is active, the others stand by) and the api role.
  const wanted = [...new Set([...config.node.roles, "notifier", "api"])]
  const roles: Record<string, string> = wanted.length === config.node.roles.length ? {} : { AKIS_NODE__ROLES: JSON.stringify(wanted) }
  let cluster: LocalCluster
  try {
    cluster = await startLocalCluster({ config, nodes, env: { ...(values.config ? { AKIS_CONFIG: values.config } : {}), ...roles }, log: say })
  } catch (e) {
    await clickhouse?.stop()
    throw new CommandFailed({ message: (e as Error).message })
  }

  // --- nginx in front (HTTPS API balanced over the nodes, device TCP passed through) ---
  let nginx: Nginx | undefined
  if (values.proxy) {
    try {
      nginx = await startNginx({
        dir: join(dataDir, "nginx"), apis: cluster.apis(), gateways: cluster.gateways(), httpsPort: config.proxy.httpsPort, devicePort: config.proxy.devicePort,
        certFile: config.gateway.certFile || join(certDir, "server.crt"), keyFile: config.gateway.keyFile || join(certDir, "server.key"),
      })
      say(`nginx: API on ${nginx.apiUrl}, devices on ${config.api.host}:${config.proxy.devicePort} (passed through to ${cluster.gateways().join(", ")})`)
    } catch (e) {
      say(`nginx did not start (${(e as Error).message.split("\n")[0]}); the API answers directly on ${cluster.apis().join(", ")} (--no-proxy skips nginx)`)
    }
  }
  const apiBase = nginx?.apiUrl ?? `http://${cluster.apis()[0]}`
  let urls = ""
  void (async () => {
    // Print the URLs once they answer (the nodes need a few seconds to join and take shards).
    for (let i = 0; i < 120 && !urls; i++) {
      const ok = await fetch(`${apiBase}/healthz`, { tls: { rejectUnauthorized: false } } as RequestInit).then((r) => r.ok, () => false)
      if (ok) {
        const dash = await fetch(`${apiBase}/dashboard/`, { tls: { rejectUnauthorized: false } } as RequestInit).then((r) => r.ok, () => false)
        urls = `API: ${apiBase}/api/v1 (OpenAPI ${apiBase}/openapi.json; direct: ${cluster.apis().map((a) => `http://${a}`).join(", ")})\n` +
          `dashboard: ${apiBase}/dashboard/${dash ? "" : " (not served yet)"}\ntoken: bun run ops tokens create <name> --role viewer|operator|admin`
        say(urls.replaceAll("\n", "\n[akis up] "))
      } else await Bun.sleep(1_000)
    }
  })()
  say(`starting the fleet simulator: ${devices} devices × ${rate} Hz for ${values.duration} (scenario ${values.scenario})`)
  const fleet = opsCli(["loadgen", "--scenario", values.scenario, "--devices", String(devices), "--rate", String(rate), "--duration", values.duration, "--gateways", cluster.gateways().join(",")])

  // --- Live summary ---
  let ctx: OpsContext | undefined
  // The embedded store belongs to the node: opening its directory here would lock the node out.
  const store: Store | undefined = embedded ? undefined : makeStore(config.clickhouse)
  let prev: Sample | undefined
  let waitingSaid = false
  let stopping = false
  let finish = () => {}
  const finished = new Promise<void>((r) => (finish = r))
  const stop = async () => {
    if (stopping) return finished
    stopping = true
    say("stopping: fleet, nodes (drain), servers ...")
    await fleet.kill("SIGTERM")
    await nginx?.stop()
    await ctx?.close().catch(() => {})
    await cluster.stop()
    await clickhouse?.stop()
    await store?.close().catch(() => {})
    if (prev) say(`last summary: rows stored ${prev.stored}, alerts raised ${prev.raised}, cleared ${prev.cleared}, readings processed ${prev.readingsIn}`)
    finish()
  }
  fleet.exited.then(async (code) => {
    if (stopping) return
    if (!values.once) return say(`fleet simulator finished (exit ${code}); the cluster keeps running, Ctrl-C stops it`)
    // Every reading the fleet got an ACK for is durable in JetStream, so it will be stored: wait for
    // the store to hold at least that many rows (the simulator prints `acked <n>` when it ends).
    const acked = Number(/^acked\s+(\d+)\s*$/m.exec(fleet.output())?.[1] ?? 0)
    say(`fleet simulator finished (exit ${code}, ${acked} readings ACKed); --once: stopping once they are stored (at most 120 s)`)
    const deadline = Date.now() + 120_000
    while (!stopping && Date.now() < deadline && !(prev && prev.stored >= acked)) await Bun.sleep(1_000)
    if (!(prev && prev.stored >= acked)) say(`stopping with ${prev?.stored ?? 0} rows stored of ${acked} readings ACKed`)
    await stop()
  })

  void (async () => {
    for (;;) {
      await Bun.sleep(2_000)
      if (stopping) break
      try {
        ctx ??= await opsContext(values.config)
        const view = await clusterView(ctx)
        const stored = store ? await storeSummary(store) : await askHistory<StoreSummary>(ctx.bus, { op: "summary" }, 5_000)
        const readingsIn = await readingsProcessed(ctx, view.members.map((m) => m.id))
        const sample: Sample = { t: Date.now(), readingsIn, ...stored }
        const fleetLine = fleet.output().split(/[\r\n]/).filter((l) => l.trim()).pop() ?? ""
        process.stdout.write("\x1b[2J\x1b[H" + renderSummary(view, sample, prev, fleetLine) + "\n" + (urls ? `\n${urls}\n` : ""))
        prev = sample
      } catch (e) {
        // Stopping closes the connection mid-refresh; before the first node has created the streams
        // and buckets (and, on chDB, answers akis.history) there is nothing to show yet.
        if (stopping) break
        if (prev || !beforeFirstNode(e)) say(`summary: ${(e as Error).message}`)
        else if (!waitingSaid) {
          waitingSaid = true
          say("summary: waiting for the first node (streams, buckets, history service)")
        }
      }
    }
  })()
  return { finished, stop }
}

/**
 * True for what the summary meets before the first node has created the streams and buckets
 * (StreamNotFound) and, on chDB, answers akis.history (NoAnswer): recognised by tag, never by text.
 */
export const beforeFirstNode = (e: unknown): boolean =>
  e instanceof StreamNotFound || e instanceof NoAnswer || (e instanceof HistoryRequestFailed && e.cause instanceof NoAnswer)

/** Sum of readings every node's shard hosts have processed (from `akis.ctl.stats.<id>`). */
async function readingsProcessed(c: OpsContext, ids: string[]): Promise<number> {
  let total = 0
  await Promise.all(ids.map(async (id) => {
    try {
      const r = await c.bus.request(`akis.ctl.stats.${id}`, new Uint8Array(0), 1_000)
      for (const s of NodeStats.fromJson(r).shards) total += s.readings ?? 0
    } catch {}
  }))
  return total
}
