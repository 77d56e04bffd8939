import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { spawnChild, type Child } from "./proc.ts"
import { waitFor } from "./wait.ts"

/**
 * nginx in front of a cluster (Debian package `nginx`, plus `libnginx-mod-stream` where the stream
 * module is dynamic): HTTPS for the API balanced over the api nodes, and a TCP pass-through
 * (`stream {}`) to the gateways so device mTLS still terminates at a gateway and the device's
 * identity stays with its certificate. The template is ops/nginx/akis.conf.
 */
export interface NginxOptions {
  /** Directory for the rendered config, pid, logs and temp files. */
  readonly dir: string
  /** API nodes (host:port). */
  readonly apis: ReadonlyArray<string>
  /** Device gateways (host:port). */
  readonly gateways: ReadonlyArray<string>
  /** HTTPS listener of the API. */
  readonly httpsPort: number
  /** Device listener passed through to the gateways. */
  readonly devicePort: number
  readonly certFile: string
  readonly keyFile: string
  readonly host?: string
}

const root = resolve(import.meta.dir, "..", "..", "..")
const modules = ["/usr/lib/nginx/modules/ngx_stream_module.so"]

/** Renders ops/nginx/akis.conf for `o` (pure apart from reading the template and probing the module path). */
export const renderNginxConfig = (o: NginxOptions, template = Bun.file(join(root, "ops/nginx/akis.conf"))): Promise<string> =>
  template.text().then((t) => t
    .replaceAll("{{load_stream}}", modules.filter((m) => existsSync(m)).map((m) => `load_module ${m};`).join("\n"))
    .replaceAll("{{dir}}", o.dir)
    .replaceAll("{{host}}", o.host ?? "127.0.0.1")
    .replaceAll("{{https_port}}", String(o.httpsPort))
    .replaceAll("{{device_port}}", String(o.devicePort))
    .replaceAll("{{cert}}", o.certFile)
    .replaceAll("{{key}}", o.keyFile)
    .replaceAll("{{api_servers}}", o.apis.map((a) => `server ${a} max_fails=2 fail_timeout=5s;`).join("\n    "))
    .replaceAll("{{gateway_servers}}", o.gateways.map((g) => `server ${g} max_fails=2 fail_timeout=5s;`).join("\n    ")))

/** A running nginx. */
export interface Nginx {
  readonly child: Child
  readonly configFile: string
  readonly apiUrl: string
  stop(): Promise<void>
}

/** Renders the config into `o.dir`, checks it with `nginx -t`, starts nginx in the foreground and waits for the HTTPS port. */
export const startNginx = async (o: NginxOptions): Promise<Nginx> => {
  mkdirSync(join(o.dir, "logs"), { recursive: true })
  mkdirSync(join(o.dir, "tmp"), { recursive: true })
  const configFile = join(o.dir, "nginx.conf")
  writeFileSync(configFile, await renderNginxConfig(o))
  const test = spawnChild("nginx-t", ["nginx", "-t", "-q", "-e", join(o.dir, "logs/error.log"), "-p", o.dir, "-c", configFile])
  if ((await test.exited) !== 0) throw new Error(`nginx -t refused ${configFile}:\n${test.output()}`)
  const child = spawnChild("nginx", ["nginx", "-e", join(o.dir, "logs/error.log"), "-p", o.dir, "-c", configFile, "-g", "daemon off;"])
  const apiUrl = `https://${o.host ?? "127.0.0.1"}:${o.httpsPort}`
  await waitFor("nginx listening", async () => {
    try {
      await Bun.connect({ hostname: o.host ?? "127.0.0.1", port: o.httpsPort, socket: { data() {} } }).then((s) => s.end())
      return true
    } catch {
      return false
    }
  }, { timeoutMs: 10_000 })
  return { child, configFile, apiUrl, stop: async () => void (await child.kill("SIGTERM")) }
}
