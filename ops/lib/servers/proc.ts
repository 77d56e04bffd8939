import { systemClock } from "../../../runtime/clock.ts"
import type { Subprocess } from "bun"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const live = new Set<Subprocess>()
const dirs = new Set<string>()

/**
 * SIGKILLs every child still running and removes the temp dirs (bun test does not run exit
 * handlers: tests/setup.ts calls it). The dirs hold gigabytes of NATS and ClickHouse data after a
 * full run, so they are removed by a background `rm` that outlives this process.
 */
export const killAllChildren = () => {
  for (const p of live) {
    try {
      p.kill("SIGKILL")
    } catch {}
  }
  if (dirs.size === 0) return
  Bun.spawn(["rm", "-rf", ...dirs], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }).unref()
  dirs.clear()
}
process.on("exit", killAllChildren)

/**
 * The path of a server binary: from PATH, else from the sbin directories where Debian puts
 * nats-server and clickhouse-server, which a normal user's PATH lacks; else the bare name.
 */
export const serverBinary = (name: string): string =>
  Bun.which(name) ?? Bun.which(name, { PATH: "/usr/local/sbin:/usr/sbin:/sbin" }) ?? name

/** A temp directory removed when the test process exits. */
export const tempDir = (prefix = "akis-test-"): string => {
  const d = mkdtempSync(join(tmpdir(), prefix))
  dirs.add(d)
  return d
}

/** A child process started by a test; killed when the test process exits, whatever happens. */
export interface Child {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">
  readonly name: string
  /** Everything the child wrote to stdout and stderr so far. */
  output(): string
  /** Resolves when a line matching `re` has been printed (or rejects after `timeoutMs`). */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>
  /** SIGKILL and wait for exit. */
  kill(signal?: NodeJS.Signals): Promise<number | null>
  readonly exited: Promise<number>
}

/**
 * Allocator settings for the Bun processes we start (nodes, gateways, simulators), each unless the
 * environment sets it. Bun's mimalloc returns freed pages to the kernel 100 ms after they were freed
 * (`purge_delay`); a node frees batch buffers in bursts at every GC and faults the pages back in at
 * the next allocations: 55–80k page faults a second per node at 100k readings/s, a third of the
 * node's CPU in the kernel. Keeping freed pages (they are still reused) cut that to 4–6k and the
 * node's CPU per reading by ≈ 12 % (docs/decisions.md, "Allocator: keep freed pages").
 */
export const bunAllocatorEnv: Readonly<Record<string, string>> = { MIMALLOC_PURGE_DELAY: "-1" }

/** Spawns a process, capturing its output for assertions and for failure reports. */
export const spawnChild = (name: string, cmd: string[], opts: { env?: Record<string, string>; cwd?: string; echo?: boolean } = {}): Child => {
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd,
    env: { ...bunAllocatorEnv, ...process.env, ...opts.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  })
  live.add(proc)
  let out = ""
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = []
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder()
    for await (const chunk of stream) {
      const text = dec.decode(chunk, { stream: true })
      out += text
      if (opts.echo || process.env.TEST_ECHO) process.stderr.write(text.replace(/^/gm, `[${name}] `))
      for (let i = waiters.length - 1; i >= 0; i--) {
        const m = out.split("\n").find((l) => waiters[i]!.re.test(l))
        if (m !== undefined) waiters.splice(i, 1)[0]!.resolve(m)
      }
    }
  }
  const pumped = Promise.all([pump(proc.stdout), pump(proc.stderr)]).catch(() => {})
  // The exit status arrives before the last of the output has been read from the pipes: a test that
  // looks at what a child printed right after it exited would miss its last lines (the shard.stop of
  // a drain). `exited` resolves once both pipes are read to their end, or 2 s after the exit if a
  // process the child started holds them open.
  const exited = proc.exited.then(async (code) => {
    live.delete(proc)
    await Promise.race([pumped, Bun.sleep(2_000)])
    return code
  })
  return {
    proc,
    name,
    output: () => out,
    exited,
    waitForLine(re, timeoutMs = 15_000) {
      const m = out.split("\n").find((l) => re.test(l))
      if (m !== undefined) return Promise.resolve(m)
      return new Promise((resolve, reject) => {
        const cancel = systemClock.after(timeoutMs, () => reject(new Error(`${name}: no line matching ${re} within ${timeoutMs} ms. Output:\n${out.slice(-3000)}`)))
        waiters.push({ re, resolve: (l) => (cancel(), resolve(l)) })
        exited.then((code) => {
          cancel()
          reject(new Error(`${name} exited (${code}) before printing ${re}. Output:\n${out.slice(-3000)}`))
        })
      })
    },
    async kill(signal = "SIGKILL") {
      if (proc.exitCode === null && !proc.killed) proc.kill(signal)
      return exited
    },
  }
}
