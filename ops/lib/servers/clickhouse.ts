import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { freePort } from "./ports.ts"
import { serverBinary, spawnChild, tempDir, type Child } from "./proc.ts"
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

/** Where Debian's clickhouse-server package puts its config.xml and users.xml. */
const packagedConfig = "/etc/clickhouse-server"

/**
 * Starts clickhouse-server with the packaged config and command-line overrides (research §D).
 * The packaged config is copied into `<dir>/etc` with its `<path>` pointing at `dir`: the server
 * writes its preprocessed config under the file's `<path>` before the command-line overrides apply,
 * and Debian's says /var/lib/clickhouse, which only root may write ("Access to file denied").
 * users.xml goes beside it because config.xml names it relative to itself.
 */
export const startClickHouse = async (opts: ClickHouseOptions = {}): Promise<ClickHouseServer> => {
  // Its three ports are picked free but bound only when the server starts: a process started at
  // the same moment (a nats-server beside it) can take one first, and the server exits (70). Once
  // more on fresh ports; a second failure is real.
  try {
    return await startOnce(opts)
  } catch (e) {
    if (!(e instanceof ExitedEarly) || opts.httpPort !== undefined) throw e
    return startOnce(opts)
  }
}

class ExitedEarly extends Error {}

const startOnce = async (opts: ClickHouseOptions): Promise<ClickHouseServer> => {
  const dir = opts.dir ?? tempDir("akis-ch-")
  for (const d of ["tmp", "uf", "fs", "etc"]) mkdirSync(join(dir, d), { recursive: true })
  const configFile = join(dir, "etc", "config.xml")
  writeFileSync(configFile, readFileSync(join(packagedConfig, "config.xml"), "utf8").replace(/<path>[^<]*<\/path>/, `<path>${dir}/</path>`))
  copyFileSync(join(packagedConfig, "users.xml"), join(dir, "etc", "users.xml"))
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
      const c = (child = spawnChild("clickhouse", [
        ...(opts.nice ? ["nice", "-n", String(opts.nice)] : []),
        serverBinary("clickhouse-server"), `--config-file=${configFile}`, "--",
        `--http_port=${httpPort}`, `--tcp_port=${tcpPort}`, `--interserver_http_port=${interPort}`,
        `--listen_host=127.0.0.1`, `--path=${dir}/`, `--tmp_path=${dir}/tmp/`, `--user_files_path=${dir}/uf/`,
        `--format_schema_path=${dir}/fs/`, `--logger.log=${dir}/ch.log`, `--logger.errorlog=${dir}/err.log`,
        `--logger.level=warning`,
      ]))
      // A server that exits at once (bad config, no access) is reported with its own words, not as a timeout.
      let ready = false
      const died = c.exited.then((code) => {
        if (!ready) {
          const errLog = existsSync(join(dir, "err.log")) ? readFileSync(join(dir, "err.log"), "utf8").slice(-1500) : ""
          throw new ExitedEarly(`clickhouse-server exited (${code}) before answering on ${httpPort}:\n${c.output().slice(-1500)}${errLog ? `\n${dir}/err.log:\n${errLog}` : ""}`)
        }
      })
      died.catch(() => {})
      await Promise.race([
        // 60 s: once on a fresh machine (ops/up right after an earlier ops/up had stopped) it took
        // more than 30 s to answer, with nothing in its logs; the next start took 5 s.
        waitFor(`clickhouse on ${httpPort}`, async () => (await fetch(`${url}/?query=SELECT%201`)).ok, { timeoutMs: 60_000, intervalMs: 200 }).catch((e: unknown) => {
          throw new Error(`${e instanceof Error ? e.message : String(e)}; clickhouse-server said:\n${c.output().slice(-1500) || "(nothing)"}`)
        }),
        died,
      ])
      ready = true
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
