/**
 * `bun run ops <command>`: the operator's CLI. Each command lives in ops/commands/<name>.ts and
 * exports one effect/cli Command; add it to the list below.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { commands } from "./commands/index.ts"

const ops = Command.make("ops").pipe(
  Command.withDescription("akis operations: cluster inspection, rules, certificates, load generation, benchmarks"),
  Command.withSubcommands(commands),
)

ops.pipe(Command.run({ version: "0.1.0" }), Effect.provide(NodeServices.layer), NodeRuntime.runMain)
