/**
 * A fresh machine, simulated with PATH: `bun` and the Debian packages' commands are hidden,
 * and fake installers provide them by linking the real binaries, so ops/lib/bootstrap.sh runs
 * its install branches for real (as root or as a user) without touching this machine.
 * - sysbin: a link to every command of /usr/local/bin, /usr/bin and /bin except the hidden ones;
 * - shims: `id` (reports the uid asked for), `npm`, `apt-get`, `systemctl` and optionally `sudo`,
 *   each appending its arguments to calls.log;
 * - `apt-get install` links the servers into a fake sbin (BOOTSTRAP_SBIN_DIRS), off the PATH
 *   as /usr/sbin is for a normal user; `npm install -g` links bun into globalbin (on the PATH) or
 *   into `<prefix>/bin` (not on the PATH: the bootstrap must add ~/.local/bin itself);
 * - `systemctl` says the nats-server unit is active once apt-get installed it (as Debian's is).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { tempDir } from "../harness/index.ts"

/** Commands a fresh machine lacks, or that only the shims may provide. */
const hidden = new Set(["bun", "bunx", "nats-server", "clickhouse", "clickhouse-server", "clickhouse-client", "nginx", "wrk", "chromium", "npm", "npx", "apt-get", "apt", "sudo", "systemctl", "id"])

/** The Debian packages the bootstrap installs (ops/lib/bootstrap.sh), each with the command it provides. */
export const debianPackages = ["nats-server", "clickhouse-server", "nginx", "wrk", "chromium"] as const

const real = (name: string): string => {
  const p = Bun.which(name, { PATH: `${process.env.PATH}:/usr/local/sbin:/usr/sbin:/sbin` })
  if (!p) throw new Error(`install shims: the real ${name} is needed (it is linked in by the fake installers)`)
  return realpathSync(p)
}

/** One simulated fresh machine. */
export interface FreshMachine {
  /** Environment for bash: the shimmed PATH, a fresh HOME, BOOTSTRAP_SBIN_DIRS, no AKIS_* variables. */
  readonly env: Record<string, string>
  readonly home: string
  readonly sbin: string
  /** Installer calls so far, one per line ("apt-get install -y -qq nats-server ..."). */
  calls(): string[]
}

/** Builds a fresh machine whose `id -u` says `uid`; `sudo` exists only when asked for; `npm` fails with `npmError` when given. */
export const freshMachine = (o: { uid: number; sudo?: boolean; npmError?: string }): FreshMachine => {
  const dir = tempDir("akis-fresh-")
  const [shims, sysbin, globalbin, sbin, home] = ["shims", "sysbin", "globalbin", "sbin", "home"].map((d) => join(dir, d))
  for (const d of [shims!, sysbin!, globalbin!, sbin!, home!]) mkdirSync(d, { recursive: true })
  const seen = new Set<string>()
  for (const d of ["/usr/local/bin", "/usr/bin", "/bin"]) {
    if (!existsSync(d)) continue
    for (const name of readdirSync(d)) {
      if (hidden.has(name) || seen.has(name)) continue
      seen.add(name)
      symlinkSync(join(d, name), join(sysbin!, name))
    }
  }
  const log = join(dir, "calls.log")
  writeFileSync(log, "")
  const bun = real("bun")
  // The fake apt-get "installs" a package by linking this machine's real command into the fake sbin.
  const installs = debianPackages.map((p) => `  ${p}) ln -sf ${real(p)} ${sbin}/${p} ;;`).join("\n")
  const realId = real("id")
  const shim = (name: string, body: string) => {
    writeFileSync(join(shims!, name), `#!/bin/bash\n${body}\n`)
    chmodSync(join(shims!, name), 0o755)
  }
  shim("id", `case "$1" in -u) echo ${o.uid} ;; -un) echo tester ;; *) exec ${realId} "$@" ;; esac`)
  shim("npm", `echo "npm $*" >> ${log}
${o.npmError ? `echo ${JSON.stringify(o.npmError)} >&2; exit 1` : ""}
prefix=${globalbin}
while [ $# -gt 0 ]; do case "$1" in --prefix) prefix="$2/bin"; shift ;; esac; shift; done
mkdir -p "$prefix" && ln -sf ${bun} "$prefix/bun"`)
  shim("apt-get", `echo "apt-get $*" >> ${log}
[ "$1" = update ] && exit 0
[ "$1" = install ] || { echo "apt-get shim: $1 not supported" >&2; exit 100; }
shift
for p in "$@"; do case "$p" in
  -*) ;;
${installs}
  *) echo "E: Unable to locate package $p" >&2; exit 100 ;;
esac; done`)
  shim("systemctl", `echo "systemctl $*" >> ${log}
case "$1" in
  is-active|is-enabled) [[ " $* " == *" nats-server "* ]] && [ -e ${sbin}/nats-server ] ;;
  *) exit 0 ;;
esac`)
  if (o.sudo) shim("sudo", `[ "$1" = -n ] && shift; echo "sudo $*" >> ${log}; exec "$@"`)
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("AKIS_")) env[k] = v
  Object.assign(env, { PATH: `${shims}:${globalbin}:${sysbin}`, HOME: home!, BOOTSTRAP_SBIN_DIRS: sbin! })
  return {
    env, home: home!, sbin: sbin!,
    calls: () => readFileSync(log, "utf8").split("\n").filter((l) => l.length > 0),
  }
}
