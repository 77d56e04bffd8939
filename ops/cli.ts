/**
 * `bun run ops <command>`: the one akis command line. Every entry point is a subcommand here
 * (node, local-cluster, gateway, up, loadgen, bench, bench-all, lint and the operator commands);
 * each lives in ops/commands/<name>.ts and exports one effect/cli Command (list: commands/index.ts).
 *
 * This is the only place that reads argv, prints a command's error and decides the exit code:
 * handlers fail with the tagged errors of ops/lib/cli/errors.ts, `outcomeOf` maps the result
 * (0 ok, 1 failed, 2 usage, 3 unreachable server, 4 bad config). SIGINT/SIGTERM interrupt the
 * command, whose finalizers release what it holds (a node drains), then the process exits 0.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { commands } from "./commands/index.ts"
import { outcomeOf } from "./lib/cli/outcome.ts"
import { StopSignal } from "./lib/cli/stop.ts"

export const ops = Command.make("ops").pipe(
  Command.withDescription("akis: run a node, a local cluster, a gateway or a fleet; inspect the cluster; rules, certificates, tokens, benchmarks"),
  Command.withSubcommands(commands),
)

/** Runs `ops <args…>` and exits the process with the code of its outcome. */
export const main = (args: ReadonlyArray<string>): void => {
  let signalled: string | undefined
  const fiber = Effect.runFork(Command.runWith(ops, { version: "0.1.0" })(args).pipe(
    Effect.provideService(StopSignal, { requested: () => signalled }),
    Effect.provide(NodeServices.layer),
  ))
  // An Effect waiting on nothing (Effect.never) holds no handle: keep the process up until the command ends.
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled !== undefined) return
    signalled = signal
    fiber.interruptUnsafe(fiber.id)
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    const { lines, code } = outcomeOf(exit, signalled !== undefined)
    for (const line of lines) process.stderr.write(`${line}\n`)
    // Exit once stdout has taken everything written: nothing of a long JSON answer is cut.
    process.stdout.write("", () => process.exit(code))
  })
}

if (import.meta.main) main(process.argv.slice(2))
