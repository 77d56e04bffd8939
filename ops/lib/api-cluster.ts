/**
 * A local API cluster for the tests and benchmarks that drive the HTTP API and the dashboard
 * (tests/api.test.ts, tests/ui.test.ts, ops/benchmarks/api.ts, ops/benchmarks/ui.ts): the fleet
 * PKI, N nodes with roles [worker, gateway, api] on free ports against a given NATS and ClickHouse,
 * API tokens made with `ops tokens create`, optionally nginx in front, and the fleet simulator.
 */
import { writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { freePort, nodeBunFlags, nodeStopSignal, spawnChild, startNginx, waitFor, type Child, type Nginx } from "./servers/index.ts"

const root = resolve(import.meta.dir, "..", "..")

export interface ApiClusterOptions {
  readonly natsUrl: string
  readonly clickhouseUrl: string
  /** Temp directory: certificates under certs/, node data, nginx. */
  readonly dir: string
  /** Node ids, one process each. */
  readonly ids: ReadonlyArray<string>
  /** Device certificates to issue (bus-0001 …). */
  readonly devices: number
  readonly partitions: number
  /** More AKIS_* settings for every node and `ops` call. */
  readonly env?: Record<string, string>
  /** Tokens to create, name → role; `tokens` of the result maps the same names to the secrets. */
  readonly tokens?: Record<string, string>
  /** Put nginx in front (HTTPS API, device TCP passed through). */
  readonly nginx?: boolean
}

export interface ApiCluster {
  /** The environment every node and `ops` call runs with. */
  readonly env: Record<string, string>
  readonly certDir: string
  readonly nodes: Map<string, Child>
  readonly apiPorts: number[]
  readonly gatewayPorts: number[]
  readonly tokens: Record<string, string>
  readonly nginx: Nginx | undefined
  /** http://127.0.0.1:<api port of node i> */
  base(i?: number): string
  /** host:port of every gateway, comma-separated (loadgen's --gateways). */
  gateways(): string
  /** `ops <args>` with the cluster's environment; throws on a non-zero exit; returns the last JSON line. */
  ops(args: ReadonlyArray<string>): Promise<string>
  /** Writes `scenario` (YAML) and starts `ops loadgen` against every gateway (niced with `nice`). */
  fleet(scenario: string, extra?: ReadonlyArray<string>, o?: { nice?: boolean }): Child
  /** Stops everything this started (nginx, fleets, nodes); `hard`: SIGKILL the nodes too (a graceful stop waits for NATS, which a test may have stopped). */
  stop(hard?: boolean): Promise<void>
}

/** Starts the cluster and returns once every node's API listens and the tokens exist. */
export const startApiCluster = async (o: ApiClusterOptions): Promise<ApiCluster> => {
  const certDir = join(o.dir, "certs")
  const env: Record<string, string> = {
    AKIS_NATS__SERVERS: o.natsUrl, AKIS_CLICKHOUSE__URL: o.clickhouseUrl, AKIS_GATEWAY__CERTDIR: certDir, AKIS_CLUSTER__PARTITIONS: String(o.partitions),
    AKIS_NODE__DATADIR: o.dir, AKIS_NODE__ROLES: "worker,gateway,api", ...o.env,
  }
  const children: Child[] = []
  const ops = async (args: ReadonlyArray<string>) => {
    const c = spawnChild("ops", ["bun", join(root, "ops/cli.ts"), ...args], { cwd: root, env })
    const code = await c.exited
    if (code !== 0) throw new Error(`ops ${args.join(" ")} exited ${code}:\n${c.output()}`)
    return c.output().trim().split("\n").filter((l) => l.startsWith("{") || l.startsWith("[")).pop()!
  }
  await ops(["certs", "init", "--dir", certDir, "--devices", String(o.devices)])
  const nodes = new Map<string, Child>()
  const apiPorts: number[] = []
  const gatewayPorts: number[] = []
  for (const id of o.ids) {
    const gp = freePort()
    const ap = freePort()
    gatewayPorts.push(gp)
    apiPorts.push(ap)
    nodes.set(id, spawnChild(id, ["bun", ...nodeBunFlags(), join(root, "ops/cli.ts"), "node"], { cwd: root, env: { ...env, AKIS_NODE__ID: id, AKIS_GATEWAY__PORT: String(gp), AKIS_API__PORT: String(ap) } }))
  }
  await waitFor("api listening on every node", () => [...nodes.values()].every((c) => c.output().includes('"event":"api.listening"')), { timeoutMs: 60_000 })
  const nginx = o.nginx
    ? await startNginx({
      dir: join(o.dir, "nginx"), apis: apiPorts.map((p) => `127.0.0.1:${p}`), gateways: gatewayPorts.map((p) => `127.0.0.1:${p}`), httpsPort: freePort(), devicePort: freePort(),
      certFile: join(certDir, "server.crt"), keyFile: join(certDir, "server.key"),
    })
    : undefined
  const tokens: Record<string, string> = {}
  for (const [name, role] of Object.entries(o.tokens ?? {})) {
    tokens[name] = (JSON.parse(await ops(["tokens", "create", name, "--role", role, "--json"])) as { token: string }).token
  }
  const gateways = () => gatewayPorts.map((p) => `127.0.0.1:${p}`).join(",")
  return {
    env, certDir, nodes, apiPorts, gatewayPorts, tokens, nginx, ops, gateways,
    base: (i = 0) => `http://127.0.0.1:${apiPorts[i]}`,
    fleet(scenario, extra = [], f = {}) {
      const file = join(o.dir, `scenario-${children.length + 1}.yaml`)
      writeFileSync(file, scenario)
      const c = spawnChild("loadgen", [...(f.nice ? ["nice", "-n", "10"] : []), "bun", join(root, "ops/cli.ts"), "loadgen", "--scenario", file, "--cert-dir", certDir,
        "--gateways", gateways(), ...extra], { cwd: root, env })
      children.push(c)
      return c
    },
    async stop(hard = false) {
      await nginx?.stop()
      await Promise.all([...children].map((c) => c.kill("SIGKILL")))
      await Promise.all([...nodes.values()].map((c) => c.kill(hard ? "SIGKILL" : nodeStopSignal())))
    },
  }
}
