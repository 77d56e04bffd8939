import { systemClock } from "../../runtime/clock.ts"
import { join, resolve } from "node:path"
import type { AkisConfig } from "../../config/schema.ts"
import { authConfPath, initCredentials, natsAuth, type NatsAuth, type NatsAuthConfig } from "../../runtime/nats/auth.ts"
import { topologyOptions } from "../../runtime/nats/topology.ts"
import { applyTopologyOn } from "../../runtime/nats/client.ts"
import { probeNats as probe, type NatsProbe } from "../../runtime/nats/probe.ts"
import { spawnChild, startNats, type Child, type NatsServer } from "./servers/index.ts"

const root = resolve(import.meta.dir, "..", "..")
const clock = systemClock

/** What `startLocalCluster` runs. */
export interface LocalClusterOptions {
  readonly config: AkisConfig
  readonly nodes: number
  /** Extra environment for every node (e.g. AKIS_CONFIG). */
  readonly env?: Record<string, string>
  /** Prefix and forward node output to stderr. */
  readonly echo?: boolean
  readonly log?: (msg: string) => void
}

/** A running local cluster. */
export interface LocalCluster {
  readonly nats: NatsServer | undefined
  readonly nodes: ReadonlyMap<string, Child>
  /** Starts one more node (a join). */
  addNode(): string
  /** Device gateway addresses of the nodes started so far (host:port). */
  gateways(): string[]
  /** API addresses of the nodes started so far (host:port). */
  apis(): string[]
  /** Drains every node, then stops the servers this launcher started. */
  stop(): Promise<void>
}

/**
 * What answers at `servers`: nothing, a NATS with JetStream, or a NATS without it (Debian's
 * nats-server package starts one like that on 127.0.0.1:4222). `detail` says why JetStream is missing.
 */
export const probeNats = (servers: ReadonlyArray<string>, nats: Partial<NatsAuthConfig> = {}): Promise<NatsProbe> =>
  probe(servers, probeAuth(nats))

/** The admin's credentials when they exist (auth on), else nats.user/pass (or nothing). */
const probeAuth = (c: Partial<NatsAuthConfig>): NatsAuth => {
  if (c.credsDir || c.credsFile) {
    try {
      return natsAuth({ user: "", pass: "", credsDir: "", credsFile: "", inboxPrefix: "auto", tls: { caFile: "", certFile: "", keyFile: "" }, ...c } as NatsAuthConfig, "admin")
    } catch {} // not created yet: the probe then only learns whether something answers
  }
  return c.user ? { user: c.user, pass: c.pass } : {}
}

/** The message for a NATS that answers without JetStream: what it is and the ways out. */
export const noJetStreamMessage = (servers: ReadonlyArray<string>, detail?: string): string =>
  `a NATS server answers at ${servers.join(", ")} but has no JetStream (${detail ?? "no answer on $JS.API.INFO"}), which akis needs. ` +
  "Debian's nats-server package starts one like that (sudo systemctl disable --now nats-server stops it). " +
  "Stop it, enable JetStream on it, or point nats.servers (AKIS_NATS__SERVERS) at another port."

/**
 * Starts nats-server (data under <dataDir>/nats, on the configured port) unless one already
 * answers there, then N akis nodes (`bun ops/main-node.ts`), restarting a node that dies
 * unexpectedly (at most 5 times a minute).
 */
export const startLocalCluster = async (o: LocalClusterOptions): Promise<LocalCluster> => {
  const log = o.log ?? ((m: string) => process.stderr.write(`[cluster] ${m}\n`))
  const dataDir = resolve(root, o.config.node.dataDir)
  let nats: NatsServer | undefined
  // Secure by default: one nkey per role (created once under nats.credsDir), loaded by every node.
  const credsDir = o.config.nats.credsDir ? resolve(root, o.config.nats.credsDir) : undefined
  if (credsDir && !o.config.nats.credsFile) {
    const created = initCredentials(credsDir, topologyOptions(o.config))
    if (created.length) log(`created NATS credentials for ${created.join(", ")} in ${credsDir} (server block: ${authConfPath(credsDir)})`)
  }
  const probe = await probeNats(o.config.nats.servers, { ...o.config.nats, credsDir: credsDir ?? "" })
  if (probe.state === "no-jetstream") throw new Error(noJetStreamMessage(o.config.nats.servers, probe.detail))
  if (probe.state === "jetstream") {
    log(`using the NATS server at ${o.config.nats.servers.join(", ")}`)
  } else {
    const url = new URL(o.config.nats.servers[0]!.replace(/^nats:/, "http:"))
    if (!["127.0.0.1", "localhost"].includes(url.hostname)) {
      throw new Error(`NATS at ${o.config.nats.servers.join(", ")} is unreachable and not local, so it cannot be started here`)
    }
    nats = await startNats({ port: Number(url.port || 4222), monitorPort: Number(url.port || 4222) + 4000, dir: join(dataDir, "nats"), auth: credsDir ?? false })
    log(`started nats-server on ${nats.url} (data in ${join(dataDir, "nats")}, monitor http://127.0.0.1:${nats.monitorPort}/jsz, ${credsDir ? `nkey auth from ${credsDir}` : "NO authentication (nats.credsDir is empty)"})`)
    // This NATS is ours: bring data kept from an earlier version to the configured settings
    // (e.g. the byte limits added later), as `ops topology apply` would; elsewhere nodes refuse.
    const admin = await nats.connect("admin")
    const applied = await applyTopologyOn(admin, topologyOptions(o.config)).finally(() => admin.close())
    for (const c of applied.changed.filter((c) => !c.endsWith(": created"))) log(`topology: ${c}`)
    for (const c of applied.impossible) log(`topology: cannot change ${c}`)
  }

  const nodes = new Map<string, Child>()
  const restarts = new Map<string, number[]>()
  let stopping = false
  let next = 1
  const launch = (id: string) => {
    // Every local node listens for devices on its own port: gateway.port + (n - 1).
    const port = String(o.config.gateway.port + Number(id.split("-").pop()) - 1)
    const env = { ...o.env, AKIS_NODE__ID: id, AKIS_GATEWAY__PORT: port, AKIS_API__PORT: String(o.config.api.port + Number(id.split("-").pop()) - 1), ...(credsDir ? { AKIS_NATS__CREDSDIR: credsDir } : {}) }
    const c = spawnChild(id, ["bun", join(root, "ops/main-node.ts")], { env, cwd: root, echo: o.echo })
    nodes.set(id, c)
    c.exited.then((code) => {
      if (stopping || nodes.get(id) !== c) return
      const recent = (restarts.get(id) ?? []).filter((t) => clock.now() - t < 60_000)
      if (recent.length >= 5) {
        log(`${id} exited (${code}) 5 times within a minute; not restarting it. Last output:\n${c.output().slice(-2000)}`)
        nodes.delete(id)
        return
      }
      restarts.set(id, [...recent, clock.now()])
      log(`${id} exited (${code}); restarting it in 1 s`)
      clock.after(1_000, () => !stopping && launch(id))
    })
  }
  const addNode = () => {
    const id = `node-${next++}`
    launch(id)
    return id
  }
  for (let i = 0; i < o.nodes; i++) addNode()
  log(`started ${o.nodes} node(s): ${[...nodes.keys()].join(", ")}`)

  return {
    nats,
    nodes,
    addNode,
    gateways: () => Array.from({ length: next - 1 }, (_, i) => `${o.config.gateway.host}:${o.config.gateway.port + i}`),
    apis: () => Array.from({ length: next - 1 }, (_, i) => `${o.config.api.host}:${o.config.api.port + i}`),
    async stop() {
      stopping = true
      log("draining nodes (planned handoff) ...")
      const all = [...nodes.values()]
      for (const c of all) c.proc.kill("SIGTERM")
      await Promise.race([Promise.all(all.map((c) => c.exited)), clock.sleep(15_000)])
      for (const c of all) await c.kill("SIGKILL")
      await nats?.stop()
      log("stopped")
    },
  }
}
