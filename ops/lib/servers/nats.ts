import { connect, type NatsConnection } from "@nats-io/transport-node"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
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
  /** A client connection, closed at cleanup. */
  connect(): Promise<NatsConnection>
  cleanup(): Promise<void>
}

const waitReachable = (port: number) =>
  waitFor(`nats-server on ${port}`, async () => {
    const nc = await connect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: 500 })
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
}

/** Starts `nats-server -js` on loopback (a free port and a temp dir unless given). */
export const startNats = async (opts: NatsServerOptions = {}): Promise<NatsServer> => {
  const dir = opts.dir ?? tempDir("akis-nats-")
  mkdirSync(dir, { recursive: true })
  const port = opts.port ?? freePort()
  const monitorPort = opts.monitorPort ?? freePort()
  const conf = join(dir, "nats.conf")
  writeFileSync(conf, `listen: 127.0.0.1:${port}\nhttp: 127.0.0.1:${monitorPort}\njetstream { store_dir: "${dir}/js" }\n${opts.configExtra ?? ""}\n`)
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
    async start() {
      child = spawnChild("nats", [serverBinary("nats-server"), "-c", conf], { echo: opts.echo })
      await waitReachable(port)
    },
    async stop(hard = false) {
      await child?.kill(hard ? "SIGKILL" : "SIGTERM")
      child = undefined
    },
    async connect() {
      const nc = await connect({ servers: server.url })
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
  readonly servers: Array<{ name: string; stop(hard?: boolean): Promise<void>; start(): Promise<void> }>
  cleanup(): Promise<void>
}

/** Starts an n-server JetStream cluster (default 3) and waits until it has a meta leader. */
export const startNatsCluster = async (n = 3): Promise<NatsCluster> => {
  const ports = Array.from({ length: n }, () => ({ client: freePort(), route: freePort() }))
  const routes = ports.map((p) => `nats-route://127.0.0.1:${p.route}`).join(", ")
  const servers = ports.map((p, i) => {
    const dir = tempDir(`akis-nats${i}-`)
    const conf = join(dir, "nats.conf")
    const name = `n${i + 1}`
    writeFileSync(conf, `server_name: ${name}\nlisten: 127.0.0.1:${p.client}\njetstream { store_dir: "${dir}/js" }\ncluster { name: akis-test, listen: 127.0.0.1:${p.route}, routes: [${routes}] }\n`)
    let child: Child | undefined
    return {
      name,
      async start() {
        child = spawnChild(`nats-${name}`, [serverBinary("nats-server"), "-c", conf])
        await waitReachable(p.client)
      },
      async stop(hard = false) {
        await child?.kill(hard ? "SIGKILL" : "SIGTERM")
        child = undefined
      },
    }
  })
  await Promise.all(servers.map((s) => s.start()))
  const urls = ports.map((p) => `nats://127.0.0.1:${p.client}`)
  // JetStream is usable once the meta group has elected a leader.
  await waitFor("JetStream meta leader", async () => {
    const nc = await connect({ servers: urls, timeout: 1000 })
    try {
      const r = await nc.request("$JS.API.INFO", undefined, { timeout: 1000 })
      return !JSON.parse(new TextDecoder().decode(r.data)).error
    } finally {
      await nc.close()
    }
  }, { timeoutMs: 30_000, intervalMs: 250 })
  return { urls, servers, cleanup: async () => void (await Promise.all(servers.map((s) => s.stop(true)))) }
}
