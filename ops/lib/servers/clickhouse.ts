import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { freePort } from "./ports.ts"
import { spawnChild, tempDir, type Child } from "./proc.ts"
import { waitFor } from "./wait.ts"

/** A private clickhouse-server (Debian's package) on loopback with its data in a temp dir. */
export interface ClickHouseServer {
  readonly url: string
  readonly httpPort: number
  /** The server process while it runs (benchmarks read its CPU time from /proc/<pid>/stat). */
  readonly pid: number | undefined
  stop(hard?: boolean): Promise<void>
  start(): Promise<void>
  cleanup(): Promise<void>
}

/** Where to run clickhouse-server. */
export interface ClickHouseOptions {
  /** HTTP port; default a free one. */
  readonly httpPort?: number
  /** Data directory kept across restarts; default a temp dir removed at exit. */
  readonly dir?: string
  /**
   * CPU niceness (0–19). On a machine shared with the pipeline, a positive value lets merges and
   * inserts (batched, latency-tolerant) yield to gateways and actors (latency-sensitive).
   */
  readonly nice?: number
}

/** Starts clickhouse-server with the packaged config and command-line overrides (research §D). */
export const startClickHouse = async (opts: ClickHouseOptions = {}): Promise<ClickHouseServer> => {
  const dir = opts.dir ?? tempDir("akis-ch-")
  for (const d of ["tmp", "uf", "fs"]) mkdirSync(join(dir, d), { recursive: true })
  const httpPort = opts.httpPort ?? freePort()
  const tcpPort = freePort()
  const interPort = freePort()
  let child: Child | undefined
  const url = `http://127.0.0.1:${httpPort}`
  const server: ClickHouseServer = {
    url,
    httpPort,
    get pid() {
      return child?.proc.pid
    },
    async start() {
      child = spawnChild("clickhouse", [
        ...(opts.nice ? ["nice", "-n", String(opts.nice)] : []),
        "clickhouse-server", "--config-file=/etc/clickhouse-server/config.xml", "--",
        `--http_port=${httpPort}`, `--tcp_port=${tcpPort}`, `--interserver_http_port=${interPort}`,
        `--listen_host=127.0.0.1`, `--path=${dir}/`, `--tmp_path=${dir}/tmp/`, `--user_files_path=${dir}/uf/`,
        `--format_schema_path=${dir}/fs/`, `--logger.log=${dir}/ch.log`, `--logger.errorlog=${dir}/err.log`,
        `--logger.level=warning`,
      ])
      await waitFor(`clickhouse on ${httpPort}`, async () => (await fetch(`${url}/?query=SELECT%201`)).ok, {
        timeoutMs: 30_000, intervalMs: 200,
      })
    },
    async stop(hard = false) {
      await child?.kill(hard ? "SIGKILL" : "SIGTERM")
      child = undefined
    },
    cleanup: () => server.stop(true),
  }
  await server.start()
  return server
}
