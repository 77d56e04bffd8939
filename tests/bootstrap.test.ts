/**
 * The install path of ops/up and ops/test, run for real on a simulated fresh machine
 * (tests/support/install-shims.ts): what the bootstrap installs and how, that it leaks nothing into
 * the config namespace, and that ops/up then starts NATS, ClickHouse, a node and the fleet.
 * Also: a NATS without JetStream on the configured port is refused with a clear message.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { probeNats } from "../ops/lib/launcher.ts"
import { freePort, spawnChild, startNats, tempDir, waitFor, type Child } from "./harness/index.ts"
import { debianPackages, freshMachine, type FreshMachine } from "./support/install-shims.ts"

const root = join(import.meta.dir, "..")
const started: Child[] = []
const bash = (m: FreshMachine, args: string[], env: Record<string, string> = {}) => {
  const c = spawnChild("bootstrap", ["/bin/bash", ...args], { env: { ...m.env, ...env }, cwd: root })
  started.push(c)
  return c
}
/** Exported variables from `env` output: name → value. */
const vars = (text: string) => new Map(text.split("\n").filter((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const))
/** Variables bash itself maintains (cd, each command): not the bootstrap's doing. */
const shellManaged = new Set(["PWD", "OLDPWD", "_", "SHLVL"])
/** `source` the bootstrap between two dumps of the environment, then print where each tool is. */
const sourced = `env > "$HOME/env.before"; source ops/lib/bootstrap.sh; env > "$HOME/env.after"; command -v bun nats-server clickhouse-server`
const changedVars = async (m: FreshMachine) => {
  const [before, after] = await Promise.all(["before", "after"].map((w) => Bun.file(join(m.home, `env.${w}`)).text().then(vars)))
  // OLDPWD moves with the bootstrap's `cd` (or not, when the shell had none): not an export of ours.
  return [...after!].filter(([k, v]) => before!.get(k) !== v).map(([k]) => k).concat([...before!.keys()].filter((k) => !after!.has(k)))
    .filter((k) => k !== "OLDPWD").sort()
}

afterAll(async () => {
  // ops/up stops its servers and nodes on SIGTERM; a SIGKILL would orphan them.
  for (const c of started) c.proc.kill("SIGTERM")
  await Promise.race([Promise.all(started.map((c) => c.exited)), Bun.sleep(20_000)])
})

describe("ops/lib/bootstrap.sh on a fresh machine", () => {
  test("as root: bun from npm -g, both servers in one apt-get, Debian's JetStream-less nats-server unit stopped, nothing exported but PATH", async () => {
    const m = freshMachine({ uid: 0 })
    const c = bash(m, ["-c", sourced], { AKIS_NODE__ID: "kept-as-is" })
    expect(await c.exited).toBe(0)
    expect(m.calls()).toEqual([
      "npm install -g bun",
      "apt-get update -qq",
      `apt-get install -y -qq ${debianPackages.join(" ")}`,
      "systemctl is-active --quiet nats-server",
      "systemctl disable --now nats-server",
      "systemctl is-active --quiet nginx",
      "systemctl is-enabled --quiet nginx",
    ])
    const where = c.output().split("\n").filter((l) => l.startsWith("/"))
    expect(where).toEqual([expect.stringMatching(/globalbin\/bun$/), join(m.sbin, "nats-server"), join(m.sbin, "clickhouse-server")])
    // The first run used to export AKIS_APT_UPDATED=1, which every node then refused as config.
    expect((await changedVars(m)).filter((k) => !shellManaged.has(k))).toEqual(["PATH"])

    // A second run finds everything (the daemons in sbin, off the original PATH) and installs nothing.
    const installed = m.calls().length
    const again = bash(m, ["-c", sourced])
    expect(await again.exited).toBe(0)
    expect(m.calls()).toHaveLength(installed)
  })

  test("as a user with password-less sudo: bun into ~/.local, apt-get through sudo, daemons found in sbin", async () => {
    const m = freshMachine({ uid: 1000, sudo: true })
    const c = bash(m, ["-c", sourced])
    expect(await c.exited).toBe(0)
    expect(m.calls()).toEqual([
      "sudo true",
      `npm install -g --prefix ${m.home}/.local bun`,
      "sudo apt-get update -qq",
      "apt-get update -qq",
      `sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${debianPackages.join(" ")}`,
      `apt-get install -y -qq ${debianPackages.join(" ")}`,
      "systemctl is-active --quiet nats-server",
      "sudo systemctl disable --now nats-server",
      "systemctl disable --now nats-server",
      "systemctl is-active --quiet nginx",
      "systemctl is-enabled --quiet nginx",
    ])
    const where = c.output().split("\n").filter((l) => l.startsWith("/"))
    expect(where).toEqual([join(m.home, ".local/bin/bun"), join(m.sbin, "nats-server"), join(m.sbin, "clickhouse-server")])
    expect((await changedVars(m)).filter((k) => k.startsWith("AKIS_"))).toEqual([])
  })

  test("as a user without sudo: names the packages to install, installs none and stops", async () => {
    const m = freshMachine({ uid: 1000 })
    const c = bash(m, ["-c", sourced])
    expect(await c.exited).toBe(1)
    expect(c.output()).toContain(`sudo apt-get install ${debianPackages.join(" ")}`)
    expect(m.calls().filter((l) => !l.startsWith("npm"))).toEqual([])
  })

  test("when npm cannot install bun, npm's own error is shown", async () => {
    const m = freshMachine({ uid: 0, npmError: "npm ERR! code SELF_SIGNED_CERT_IN_CHAIN" })
    const c = bash(m, ["-c", sourced])
    expect(await c.exited).toBe(1)
    expect(c.output()).toContain("npm ERR! code SELF_SIGNED_CERT_IN_CHAIN")
    expect(c.output()).toContain("npm install -g bun failed (above)")
    expect(m.calls()).toEqual(["npm install -g bun"])
  })

  test("ops/up on the fresh machine installs everything, then NATS, ClickHouse, a node and the fleet run and readings are stored", async () => {
    const m = freshMachine({ uid: 0 })
    const data = tempDir("akis-fresh-up-")
    const c = bash(m, ["ops/up", "--nodes", "1", "--devices", "3", "--rate", "2", "--duration", "8s", "--once", "--no-proxy"], {
      AKIS_NATS__SERVERS: `nats://127.0.0.1:${freePort()}`, AKIS_CLICKHOUSE__URL: `http://127.0.0.1:${freePort()}`,
      AKIS_GATEWAY__PORT: String(freePort()), AKIS_NODE__DATADIR: data, AKIS_GATEWAY__CERTDIR: join(data, "certs"),
    })
    const code = await c.exited
    expect({ code, tail: code === 0 ? "" : c.output().slice(-3000) }).toEqual({ code: 0, tail: "" })
    expect(m.calls()).toContain(`apt-get install -y -qq ${debianPackages.join(" ")}`)
    expect(c.output()).toContain(`started nats-server`)
    expect(c.output()).toContain(`starting clickhouse-server`)
    const stored = Number(/last summary: rows stored (\d+)/.exec(c.output())?.[1] ?? 0)
    expect(stored).toBeGreaterThan(0)
  }, 180_000)
})

describe("a NATS without JetStream on the configured port", () => {
  test("is told apart from none and from one with JetStream, and ops/up refuses it before creating anything", async () => {
    const port = freePort()
    const bare = spawnChild("nats-no-js", [Bun.which("nats-server", { PATH: `${process.env.PATH}:/usr/sbin` })!, "-a", "127.0.0.1", "-p", String(port)])
    const url = `nats://127.0.0.1:${port}`
    await waitFor("bare nats-server", async () => (await probeNats([url])).state !== "absent", { timeoutMs: 15_000, intervalMs: 100 })
    expect((await probeNats([url])).state).toBe("no-jetstream")
    expect((await probeNats([`nats://127.0.0.1:${freePort()}`])).state).toBe("absent")
    const js = await startNats()
    expect((await probeNats([js.url])).state).toBe("jetstream")
    await js.cleanup()

    const data = tempDir("akis-nojs-")
    const up = spawnChild("ops-up", ["bun", join(root, "ops/up.ts"), "--nodes", "1", "--devices", "1", "--duration", "5s", "--once"], {
      cwd: root,
      env: { AKIS_NATS__SERVERS: url, AKIS_CLICKHOUSE__URL: `http://127.0.0.1:${freePort()}`, AKIS_NODE__DATADIR: data, AKIS_GATEWAY__CERTDIR: join(data, "certs") },
    })
    started.push(up)
    expect(await up.exited).toBe(1)
    expect(up.output()).toContain(`a NATS server answers at ${url} but has no JetStream`)
    expect(up.output()).toContain("sudo systemctl disable --now nats-server")
    expect(existsSync(join(data, "certs"))).toBe(false)
    await bare.kill()
  }, 60_000)
})

describe("as a normal user", () => {
  // Run as nobody (needs root to switch; as a normal user every server test already runs this way).
  // …and `nobody` must reach the checkout (not so under /root, for example).
  const ancestors = root.split("/").map((_, i, parts) => parts.slice(0, i + 1).join("/") || "/")
  const othersReach = ancestors.every((d) => (statSync(d).mode & 0o001) !== 0)
  const canSwitch = process.getuid?.() === 0 && Bun.which("setpriv") !== null && othersReach
  test.if(canSwitch)("the harness finds the servers in sbin off the PATH and starts ClickHouse and NATS (Debian's config names a root-only <path>)", async () => {
    const dir = tempDir("akis-as-user-")
    chmodSync(dir, 0o755)
    mkdirSync(join(dir, "ch"))
    chmodSync(join(dir, "ch"), 0o777) // nobody's ClickHouse data dir
    const script = join(dir, "start.ts")
    writeFileSync(script, [
      `import { startClickHouse, startNats } from ${JSON.stringify(join(root, "tests/harness/index.ts"))}`,
      `const ch = await startClickHouse({ dir: ${JSON.stringify(join(dir, "ch"))} })`,
      "const version = (await (await fetch(`${ch.url}/?query=SELECT%20version()`)).text()).trim()",
      "const nats = await startNats()",
      "console.log(`started uid=${process.getuid!()} clickhouse=${version} nats=${nats.url}`)",
      "await ch.cleanup()",
      "await nats.cleanup()",
      "process.exit(0)",
    ].join("\n"))
    chmodSync(script, 0o644)
    const home = join(dir, "home")
    const c = spawnChild("as-nobody", [
      Bun.which("setpriv")!, "--reuid=65534", "--regid=65534", "--clear-groups",
      "env", "-i", `HOME=${home}`, "PATH=/usr/local/bin:/usr/bin:/bin", Bun.which("bun")!, script,
    ])
    started.push(c)
    const code = await c.exited
    expect({ code, out: c.output().trim().split("\n").pop() }).toEqual({ code: 0, out: expect.stringMatching(/^started uid=65534 clickhouse=\S+ nats=nats:/) })
    // It wrote its preprocessed config under its own data dir, not under Debian's /var/lib/clickhouse.
    expect(existsSync(join(dir, "ch", "preprocessed_configs", "config.xml"))).toBe(true)
  }, 60_000)
})
