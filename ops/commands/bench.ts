import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { benchmarks } from "../benchmarks/index.ts"
import { attempt, UsageError } from "../lib/cli/errors.ts"
import { jsonFlag } from "../lib/cli/flags.ts"
import { keyValues } from "../lib/table.ts"

/** `ops bench <name> [--json] [--runs N] [--rates a,b,…]`: runs one benchmark from ops/benchmarks/. */
export const bench = Command.make(
  "bench",
  {
    name: Argument.String("name").pipe(Argument.withDescription(`one of: ${Object.keys(benchmarks).join(", ")}`)),
    json: jsonFlag,
    runs: Flag.Int("runs").pipe(Flag.withDescription("repetitions where the benchmark takes a median"), Flag.optional),
    rates: Flag.String("rates").pipe(Flag.withDescription("e2e: offered loads of the ramp in readings/s, comma-separated, or 'none'; the ramp stops at the first step not sustained, then runs one step halfway back (default 20000,40000,60000,80000,100000,110000,120000,150000)"), Flag.optional),
    stepSeconds: Flag.Int("step-seconds").pipe(Flag.withDescription("e2e: seconds per ramp step (default 60; shorter only to check that the bench runs)"), Flag.optional),
    refSeconds: Flag.Int("ref-seconds").pipe(Flag.withDescription("e2e: seconds of the reference phase (default 60, at least 22)"), Flag.optional),
    seconds: Flag.Finite("seconds").pipe(Flag.withDescription("ingest: measured seconds per format (default 8 for CSV); shorter only to check that the bench runs"), Flag.optional),
    nodes: Flag.Int("nodes").pipe(Flag.withDescription("e2e: node processes (default: one per core, 2–3, as ops/up)"), Flag.optional),
    maxDevices: Flag.Int("max-devices").pipe(Flag.withDescription("scale: largest fleet of the 1k → 10k → 50k → 100k ladder (default 100000)"), Flag.optional),
  },
  Effect.fn(function* ({ name, json, runs, rates, stepSeconds, refSeconds, seconds, nodes, maxDevices }) {
    const load = benchmarks[name]
    if (!load) return yield* new UsageError({ message: `unknown benchmark '${name}'; known: ${Object.keys(benchmarks).join(", ")}` })
    const result = yield* attempt(async () => (await load()).run({
      runs: Option.getOrUndefined(runs), json, rates: Option.getOrUndefined(rates), stepSeconds: Option.getOrUndefined(stepSeconds),
      refSeconds: Option.getOrUndefined(refSeconds), seconds: Option.getOrUndefined(seconds), nodes: Option.getOrUndefined(nodes), maxDevices: Option.getOrUndefined(maxDevices),
    }))
    yield* Console.log(json ? JSON.stringify(result) : keyValues(result))
  }),
).pipe(Command.withDescription("run a benchmark and print its results (docs/benchmarks.md keeps them)"))
