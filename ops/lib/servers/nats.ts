import { systemClock } from "../../../runtime/clock.ts"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { authConfPath, initCredentials, natsAuth, type NatsAuth } from "../../../runtime/nats/auth.ts"
import type { Role, TopologyOptions } from "../../../runtime/nats/topology.ts"
import { freePort } from "./ports.ts"
import { serverBinary, spawnChild, tempDir, type Child } from "./proc.ts"
import { waitFor } from "./wait.ts"

/** A private nats-server with JetStream, on loopback, data in a temp dir. */
export interface NatsServer {
  readonly url: string
  readonly port: number
  readonly monitorPort: number
  readonly storeDir: string
  /** The server process while it runs (benchmarks read its CPU time from /proc/<pid>/stat). */
  readonly pid: number | undefined
  /** Stops the server (SIGTERM, or SIGKILL when `hard`). Data stays, so `start()` resumes it. */
  stop(hard?: boolean): Promise<void>
  /** (Re)starts on the same port and store. */
  start(): Promise<void>
  /** Credentials directory (undefined: no auth). */
  readonly credsDir: string | undefined
  /** A client connection as `role` (default admin: every subject), closed at cleanup. */
  connect(role?: Role): Promise<NatsConnection>
  /** Connect options of `role` for this server (credentials, inbox prefix). */
  auth(role?: Role): NatsAuth
  /** Re-reads auth.conf (after a rotation) and reloads the running server (SIGHUP). */
  reload(): Promise<void>
  /** What the server printed so far (since its last start); permission violations show here. */
  log(): string
  cleanup(): Promise<void>
}

/** Topology settings the harness's credentials are generated for (consumer names; the defaults). */
const harnessTopology: TopologyOptions = { replicas: 1, telemetryMaxAgeHours: 1, alertsMaxAgeHours: 1 }

let sharedCreds: string | undefined
/**
 * The credentials of every server this process starts with auth (created once, in a temp dir).
 * `AKIS_NATS__CREDSDIR` is set to it, so nodes and ops commands spawned by a test (and
 * `loadConfig` in the test itself) authenticate with their role's key.
 */
export const harnessCredentials = (): string => {
  if (!sharedCreds) {
    sharedCreds = tempDir("akis-nats-auth-")
    initCredentials(sharedCreds, harnessTopology)
    process.env.AKIS_NATS__CREDSDIR = sharedCreds
  }
  return sharedCreds
}

/** Connect options of `role` with the credentials in `dir` (undefined: no auth). */
export const roleAuth = (dir: string | undefined, role: Role): NatsAuth =>
  dir ? natsAuth({ user: "", pass: "", credsDir: dir, credsFile: "", inboxPrefix: "auto", tls: { caFile: "", certFile: "", keyFile: "" } }, role) : {}

const authBlock = (dir: string | undefined) => {
  if (!dir) return ""
  if (!existsSync(authConfPath(dir))) initCredentials(dir, harnessTopology)
  return readFileSync(authConfPath(dir), "utf8")
}

const waitReachable = (port: number, auth: NatsAuth) =>
  waitFor(`nats-server on ${port}`, async () => {
    const nc = await connect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: 500, ...auth })
    await nc.close()
    return true
  }, { timeoutMs: 15_000, intervalMs: 100 })

/** Where and how to run a single nats-server. */
export interface NatsServerOptions {
  /** Client port; default a free one. */
  readonly port?: number
  /** Monitoring (/jsz) port; default a free one. */
  readonly monitorPort?: number
  /** Data directory kept across restarts; default a temp dir removed at exit. */
  readonly dir?: string
  readonly configExtra?: string
  /** Prefix the server's output on stderr. */
  readonly echo?: boolean
  /**
   * Authentication: a credentials directory (`ops nats-auth init`; its auth.conf is loaded), or
   * false for none. Default: the test process's shared credentials ({@link harnessCredentials}).
   */
  readonly auth?: string | false
  /** TLS: the server's certificate and key; clients of {@link NatsServer.auth} trust `caFile`. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string }
}

/** Starts `nats-server -js` on loopback (a free port and a temp dir unless given). */
export const startNats = async (opts: NatsServerOptions = {}): Promise<NatsServer> => {
  const dir = opts.dir ?? tempDir("akis-nats-")
  mkdirSync(dir, { recursive: true })
  const port = opts.port ?? freePort()
  const monitorPort = opts.monitorPort ?? freePort()
  const conf = join(dir, "nats.conf")
  const credsDir = opts.auth === false ? undefined : (opts.auth ?? harnessCredentials())
  const writeConf = () =>
    writeFileSync(conf, `listen: 127.0.0.1:${port}\nhttp: 127.0.0.1:${monitorPort}\njetstream { store_dir: "${dir}/js" }\n${opts.configExtra ?? ""}\n` +
      (opts.tls ? `tls { cert_file: "${opts.tls.certFile}", key_file: "${opts.tls.keyFile}" }\n` : "") + authBlock(credsDir))
  let child: Child | undefined
  const conns: NatsConnection[] = []
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorPort,
    storeDir: dir,
    get pid() {
      return child?.proc.pid
    },
    credsDir,
    auth: (role = "admin") => ({ ...roleAuth(credsDir, role), ...(opts.tls ? { tls: { caFile: opts.tls.caFile } } : {}) }),
    log: () => child?.output() ?? "",
    async start() {
      writeConf()
      child = spawnChild("nats", [serverBinary("nats-server"), "-c", conf], { echo: opts.echo })
      await waitReachable(port, server.auth())
    },
    async reload() {
      writeConf()
      child?.proc.kill("SIGHUP")
      await systemClock.sleep(300)
    },
    async stop(hard = false) {
      await child?.kill(hard ? "SIGKILL" : "SIGTERM")
      child = undefined
    },
    async connect(role = "admin") {
      const nc = await connect({ servers: server.url, ...server.auth(role) })
      conns.push(nc)
      return nc
    },
    async cleanup() {
      await Promise.all(conns.map((c) => c.close().catch(() => {})))
      await server.stop(true)
    },
  }
  await server.start()
  return server
}

/** A 3-server (or n-server) JetStream cluster on loopback. */
export interface NatsCluster {
  readonly urls: string[]
  readonly credsDir: string | undefined
  /** A client connection to all servers as `role` (default admin); the caller closes it. */
  connect(role?: Role): Promise<NatsConnection>
  readonly servers: Array<{ name: string; stop(hard?: boolean): Promise<void>; start(): Promise<void> }>
  cleanup(): Promise<void>
}

/** Starts an n-server JetStream cluster (default 3) and waits until it places an R(n) stream. */
export const startNatsCluster = async (n = 3, opts: { auth?: string | false } = {}): Promise<NatsCluster> => {
  const credsDir = opts.auth === false ? undefined : (opts.auth ?? harnessCredentials())
  const auth = roleAuth(credsDir, "admin")
  const ports = Array.from({ length: n }, () => ({ client: freePort(), route: freePort() }))
  const routes = ports.map((p) => `nats-route://127.0.0.1:${p.route}`).join(", ")
  const servers = ports.map((p, i) => {
    const dir = tempDir(`akis-nats${i}-`)
    const conf = join(dir, "nats.conf")
    const name = `n${i + 1}`
    writeFileSync(conf, `server_name: ${name}\nlisten: 127.0.0.1:${p.client}\njetstream { store_dir: "${dir}/js" }\ncluster { name: akis-test, listen: 127.0.0.1:${p.route}, routes: [${routes}] }\n${authBlock(credsDir)}`)
    let child: Child | undefined
    return {
      name,
      async start() {
        child = spawnChild(`nats-${name}`, [serverBinary("nats-server"), "-c", conf])
        await waitReachable(p.client, auth)
      },
      async stop(hard = false) {
        await child?.kill(hard ? "SIGKILL" : "SIGTERM")
        child = undefined
      },
    }
  })
  await Promise.all(servers.map((s) => s.start()))
  const urls = ports.map((p) => `nats://127.0.0.1:${p.client}`)
  // JetStream is usable for an R(n) stream once the meta group has a leader that knows all n
  // servers: a leader elected by a quorum can answer INFO while the last server is not placed yet
  // ("no suitable peers for placement", seen in CI). So a throwaway R(n) stream must be accepted.
  const js = (nc: Awaited<ReturnType<typeof connect>>, api: string, body?: unknown) =>
    nc.request(`$JS.API.${api}`, body === undefined ? undefined : JSON.stringify(body), { timeout: 2000 })
      .then((r) => JSON.parse(new TextDecoder().decode(r.data)) as { error?: unknown })
  await waitFor(`JetStream placing on all ${n} servers`, async () => {
    const nc = await connect({ servers: urls, timeout: 1000, ...auth })
    try {
      if ((await js(nc, "INFO")).error) return false
      const probe = "AKIS_HARNESS_PLACEMENT"
      if ((await js(nc, `STREAM.CREATE.${probe}`, { name: probe, subjects: ["akis-harness.placement"], num_replicas: n, storage: "memory" })).error) return false
      await js(nc, `STREAM.DELETE.${probe}`)
      return true
    } finally {
      await nc.close()
    }
  }, { timeoutMs: 30_000, intervalMs: 250 })
  return {
    urls, servers, credsDir,
    connect: (role = "admin") => connect({ servers: urls, ...roleAuth(credsDir, role) }),
    cleanup: async () => void (await Promise.all(servers.map((s) => s.stop(true)))),
  }
}
