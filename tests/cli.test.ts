/**
 * The one CLI, as a user runs it: `bun ops/cli.ts …` in its own process. Usage errors name the
 * flag and exit 2, an unreachable server exits 3, a bad config 4, a failed command 1; every
 * former entry point (node, cluster launcher, gateway, up, lint, bench-all) still starts, also
 * through its old file (ops/main-node.ts, …).
 */
import { describe, expect, test } from "bun:test"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { freePort, spawnChild, startNats, tempDir, waitFor } from "./harness/index.ts"

const root = join(import.meta.dir, "..")
/** NATS on a port nobody listens on, without credentials. */
const noNats = () => ({ AKIS_NATS__SERVERS: `nats://127.0.0.1:${freePort()}`, AKIS_NATS__CREDSDIR: "" })

const run = async (argv: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const p = Bun.spawn(["bun", ...argv], { cwd: root, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  return { code, out, err }
}
const ops = (args: ReadonlyArray<string>, env?: Record<string, string>) => run(["ops/cli.ts", ...args], env)

describe("ops: exit codes and usage errors", () => {
  const rules = tempDir("akis-cli-")
  const bad = join(rules, "bad.yaml")
  writeFileSync(bad, "rules:\n  r:\n    when: sped_kmh > 1\n")
  const cases: Array<[string, string[], Record<string, string>, number, string]> = [
    ["missing argument", ["bench"], {}, 2, "Missing required argument: name"],
    ["unknown subcommand", ["nosuch"], {}, 2, 'Unknown subcommand "nosuch"'],
    ["malformed flag value", ["capacity", "--devices", "x"], {}, 2, "--devices"],
    ["flag out of range", ["capacity", "--devices", "10", "--years", "99"], {}, 2, "--years must be in [1, 50]"],
    ["flag value not allowed", ["tokens", "create", "grafana", "--role", "root"], {}, 2, "--role must be one of viewer, operator, admin (got 'root')"],
    ["bad id", ["tokens", "revoke", "xyz"], {}, 2, "'xyz' is not a token id"],
    ["bad actor address", ["actor", "nonsense"], {}, 2, "is not an actor address"],
    ["cluster launcher range", ["local-cluster", "--nodes", "0"], {}, 2, "--nodes must be a whole number from 1 to 32 (got '0')"],
    ["unknown benchmark", ["bench", "nosuch"], {}, 2, "unknown benchmark 'nosuch'"],
    ["bench-all unknown benchmark", ["bench-all", "--only", "nosuch"], {}, 2, "unknown benchmark(s): nosuch"],
    ["up range", ["up", "--devices", "0"], {}, 2, "--devices must be a number from 1 to 20000"],
    ["unreachable NATS", ["cluster"], noNats(), 3, "cannot reach NATS"],
    ["unreachable NATS (rules)", ["rules", "history"], noNats(), 3, "cannot reach NATS"],
    ["bad config", ["cluster"], { AKIS_CLUSTER__PARTITIONS: "abc" }, 4, "cluster.partitions"],
    ["a failed command", ["rules", "validate", bad], {}, 1, `${bad}:3:11: unknown field "sped_kmh"`],
  ]
  test.concurrent.each(cases)("%s", async (_name, args, env, code, message) => {
    const r = await ops(args, env)
    expect({ code: r.code, hasMessage: r.err.includes(message) }).toEqual({ code, hasMessage: true })
  }, 60_000)
})

describe("every former entry point is a subcommand that starts", () => {
  const entries: Array<[string, string[], string]> = [
    ["ops node", ["ops/cli.ts", "node", "--help"], "ops node"],
    ["ops/main-node.ts (bun run node)", ["ops/main-node.ts", "--help"], "ops node"],
    ["ops local-cluster", ["ops/cli.ts", "local-cluster", "--help"], "ops local-cluster"],
    ["ops/cluster.ts (bun run cluster)", ["ops/cluster.ts", "--help"], "ops local-cluster"],
    ["ops gateway", ["ops/cli.ts", "gateway", "--help"], "ops gateway"],
    ["ops/gateway-main.ts", ["ops/gateway-main.ts", "--help"], "ops gateway"],
    ["ops up", ["ops/cli.ts", "up", "--help"], "ops up"],
    ["ops/up.ts", ["ops/up.ts", "--help"], "ops up"],
    ["ops loadgen", ["ops/cli.ts", "loadgen", "--help"], "ops loadgen"],
    ["ops bench", ["ops/cli.ts", "bench", "--help"], "ops bench"],
    ["ops bench-all", ["ops/cli.ts", "bench-all", "--help"], "ops bench-all"],
    ["ops/lint.ts", ["ops/lint.ts", "--help"], "ops lint"],
  ]
  test.concurrent.each(entries)("%s", async (_name, argv, usage) => {
    const r = await run(argv)
    expect({ code: r.code, usage: r.out.includes(`USAGE\n  ${usage} `) }).toEqual({ code: 0, usage: true })
  }, 60_000)

  test("ops lint runs the style checks", async () => {
    const r = await run(["ops/cli.ts", "lint"])
    expect(r.code).toBe(0)
    expect(r.err).toMatch(/^lint: 0 error\(s\), \d+ warning\(s\)$/m)
  }, 60_000)
})

describe("stopping a long-running command", () => {
  test("SIGTERM drains a started node: it logs node.shutdown with the signal and exits 0", async () => {
    const ns = await startNats({ auth: false })
    try {
      const node = spawnChild("cli-node", ["bun", join(root, "ops/cli.ts"), "node"], {
        cwd: root, env: { AKIS_NATS__SERVERS: ns.url, AKIS_NATS__CREDSDIR: "", AKIS_NODE__ROLES: "api", AKIS_API__PORT: String(freePort()), AKIS_NODE__DATADIR: tempDir("akis-cli-node-") },
      })
      await waitFor("api listening", () => node.output().includes('"event":"api.listening"'), { timeoutMs: 30_000 })
      node.proc.kill("SIGTERM")
      expect(await node.exited).toBe(0)
      expect(node.output()).toContain('"event":"node.shutdown","why":"SIGTERM"')
      expect(node.output()).toContain('"event":"node.stop"')
    } finally {
      await ns.cleanup()
    }
  }, 60_000)

  test("SIGTERM during a start that waits (ClickHouse down) ends the process at once with 0", async () => {
    const ns = await startNats({ auth: false })
    try {
      const node = spawnChild("cli-node-wait", ["bun", join(root, "ops/cli.ts"), "node"], {
        cwd: root, env: { AKIS_NATS__SERVERS: ns.url, AKIS_NATS__CREDSDIR: "", AKIS_NODE__ROLES: "worker", AKIS_CLICKHOUSE__URL: `http://127.0.0.1:${freePort()}`, AKIS_NODE__DATADIR: tempDir("akis-cli-node-") },
      })
      await waitFor("waiting for ClickHouse", () => node.output().includes('"event":"clickhouse.unavailable"'), { timeoutMs: 30_000 })
      node.proc.kill("SIGTERM")
      expect(await Promise.race([node.exited, Bun.sleep(10_000).then(() => "still running")])).toBe(0)
    } finally {
      await ns.cleanup()
    }
  }, 60_000)
})
