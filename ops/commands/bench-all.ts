/**
 * `ops bench-all [--short] [--only e2e,sink] [--out DIR] [--report-only]` (`ops/bench-all`): runs every benchmark
 * one after the other, each as `bun ops/cli.ts bench <name> --json …` in its own process, saves
 * what it printed with the command, commit, time and load average (docs/bench-results/<name>.json),
 * then writes docs/benchmarks.md from those files (ops/benchmarks/report.ts; `--report-only` just
 * that, from the saved files). Run it on a quiet
 * machine: the load average before and after each run is recorded so a busy one shows.
 * `--short`: short settings, only to check that every benchmark runs; results go to a temp dir
 * (or `--out`) and docs/ is left alone. Progress (each command, its stderr) goes to stderr.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { benchCommand, benchPlans, renderReport, writeReport, type SavedRun } from "../benchmarks/report.ts"
import { attempt, CommandFailed, usage } from "../lib/cli/errors.ts"

const root = resolve(import.meta.dir, "..", "..")
const say = (m: string) => process.stderr.write(m)
const load = () => loadavg().map((x) => Math.round(x * 100) / 100)

/** Runs the benchmarks `only` in order; the number that failed. */
const runAll = async (only: ReadonlyArray<string>, short: boolean, out: string): Promise<number> => {
  mkdirSync(out, { recursive: true })
  const commit = new TextDecoder().decode(Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: root }).stdout).trim() || "unknown"
  const saved: SavedRun[] = []
  let failed = 0
  for (const name of only) {
    const cmd = benchCommand(name, short)
    say(`\n=== ${cmd.join(" ")}\n`)
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
      say(`=== ${name}: FAILED (exit ${code})\n`)
      continue
    }
    const run: SavedRun = {
      name, command: cmd.join(" "), started: started.toISOString().slice(0, 16).replace("T", " ") + " UTC",
      seconds: Math.round((Date.now() - started.getTime()) / 1000), commit, machine: { cpus: cpus().length, load_before: before, load_after: load() }, result,
    }
    writeFileSync(join(out, `${name}.json`), `${JSON.stringify(run, null, 2)}\n`)
    saved.push(run)
    say(`=== ${name}: ok, saved to ${join(out, `${name}.json`)}\n`)
  }
  if (!short && only.length === Object.keys(benchPlans).length && failed === 0) {
    writeFileSync(join(root, "docs", "benchmarks.md"), renderReport(saved))
    say("wrote docs/benchmarks.md\n")
  } else {
    writeFileSync(join(out, "benchmarks.md"), renderReport(saved))
    say(`wrote ${join(out, "benchmarks.md")} (docs/ unchanged: ${short ? "--short" : failed ? "a benchmark failed" : "--only"})\n`)
  }
  return failed
}

export const benchAll = Command.make(
  "bench-all",
  {
    short: Flag.Boolean("short").pipe(Flag.withDescription("short settings, only to check that every benchmark runs (docs/ is left alone)"), Flag.withDefault(false)),
    only: Flag.String("only").pipe(Flag.withDescription(`comma-separated subset of: ${Object.keys(benchPlans).join(", ")}`), Flag.optional),
    out: Flag.String("out").pipe(Flag.withDescription("directory for the JSON results (default docs/bench-results, or a temp dir with --short)"), Flag.optional),
    reportOnly: Flag.Boolean("report-only").pipe(Flag.withDescription("run nothing: rewrite docs/benchmarks.md (or <out>/benchmarks.md) from the saved results"), Flag.withDefault(false)),
  },
  Effect.fn(function* ({ short, only, out, reportOnly }) {
    if (reportOnly) {
      const dir = Option.getOrElse(out, () => join(root, "docs", "bench-results"))
      const file = Option.isSome(out) ? join(dir, "benchmarks.md") : join(root, "docs", "benchmarks.md")
      const n = yield* attempt(() => writeReport(dir, file))
      return yield* Console.error(`wrote ${file} from ${n} result file(s) in ${dir}`)
    }
    const names = Option.match(only, { onNone: () => Object.keys(benchPlans), onSome: (s) => s.split(",") })
    const unknown = names.filter((n) => !benchPlans[n])
    yield* usage(unknown.length > 0 && `unknown benchmark(s): ${unknown.join(", ")}; known: ${Object.keys(benchPlans).join(", ")}`)
    const dir = Option.getOrElse(out, () => (short ? mkdtempSync(join(tmpdir(), "akis-bench-short-")) : join(root, "docs", "bench-results")))
    const failed = yield* attempt(() => runAll(names, short, dir))
    if (failed) return yield* new CommandFailed({ message: `${failed} benchmark(s) failed` })
  }),
).pipe(Command.withDescription("run every benchmark in its own process, save the results and regenerate docs/benchmarks.md"))
