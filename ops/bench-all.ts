/**
 * `ops/bench-all [--short] [--only e2e,sink] [--out DIR]`: runs every benchmark one after the
 * other, each as `bun ops/cli.ts bench <name> --json …` in its own process, saves what it printed
 * with the command, commit, time and load average (docs/bench-results/<name>.json), then writes
 * docs/benchmarks.md from those files (ops/benchmarks/report.ts). Run it on a quiet machine: the
 * load average before and after each run is recorded so a busy one shows.
 * `--short`: short settings, only to check that every benchmark runs; results go to a temp dir
 * (or `--out`) and docs/ is left alone.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { benchCommand, benchPlans, renderReport, type SavedRun } from "./benchmarks/report.ts"

const root = resolve(import.meta.dir, "..")
const args = process.argv.slice(2)
const flag = (name: string) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const short = args.includes("--short")
const only = flag("--only")?.split(",") ?? Object.keys(benchPlans)
const unknown = only.filter((n) => !benchPlans[n])
if (unknown.length) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(", ")}; known: ${Object.keys(benchPlans).join(", ")}\n`)
  process.exit(2)
}
const out = flag("--out") ?? (short ? mkdtempSync(join(tmpdir(), "akis-bench-short-")) : join(root, "docs", "bench-results"))
mkdirSync(out, { recursive: true })
const commit = new TextDecoder().decode(Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: root }).stdout).trim() || "unknown"
const load = () => loadavg().map((x) => Math.round(x * 100) / 100)

const saved: SavedRun[] = []
let failed = 0
for (const name of only) {
  const cmd = benchCommand(name, short)
  process.stderr.write(`\n=== ${cmd.join(" ")}\n`)
  const before = load()
  const started = new Date()
  const p = Bun.spawn(cmd, { cwd: root, stdout: "pipe", stderr: "inherit" })
  const text = await new Response(p.stdout).text()
  const code = await p.exited
  const last = text.trim().split("\n").pop() ?? ""
  let result: Record<string, unknown> | undefined
  try {
    result = JSON.parse(last) as Record<string, unknown>
  } catch {
    result = undefined
  }
  if (code !== 0 || !result) {
    failed++
    process.stderr.write(`=== ${name}: FAILED (exit ${code})\n`)
    continue
  }
  const run: SavedRun = {
    name, command: cmd.join(" "), started: started.toISOString().slice(0, 16).replace("T", " ") + " UTC",
    seconds: Math.round((Date.now() - started.getTime()) / 1000), commit, machine: { cpus: cpus().length, load_before: before, load_after: load() }, result,
  }
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify(run, null, 2)}\n`)
  saved.push(run)
  process.stderr.write(`=== ${name}: ok, saved to ${join(out, `${name}.json`)}\n`)
}
if (!short && only.length === Object.keys(benchPlans).length && failed === 0) {
  writeFileSync(join(root, "docs", "benchmarks.md"), renderReport(saved))
  process.stderr.write("wrote docs/benchmarks.md\n")
} else {
  writeFileSync(join(out, "benchmarks.md"), renderReport(saved))
  process.stderr.write(`wrote ${join(out, "benchmarks.md")} (docs/ unchanged: ${short ? "--short" : failed ? "a benchmark failed" : "--only"})\n`)
}
process.exit(failed ? 1 : 0)
