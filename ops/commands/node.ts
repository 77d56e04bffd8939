/** `ops node` (`bun run node`): one akis node with the roles of node.roles, until SIGTERM/SIGINT or `ops drain`. */
import { Effect, Option } from "effect"
import { Command } from "effect/cli"
import { service } from "../lib/cli/service.ts"
import { configFlag } from "../lib/cli/flags.ts"
import { StopSignal } from "../lib/cli/stop.ts"
import { startNodeProcess } from "../lib/node-process.ts"

export const node = Command.make(
  "node",
  { config: configFlag },
  ({ config }) =>
    Effect.gen(function* () {
      const stop = yield* StopSignal
      // Stopping drains the node, whether it was signalled (interrupt) or drained itself (`ops drain`).
      yield* service(() => startNodeProcess(Option.getOrUndefined(config)), (p) => p.shutdown(stop.requested() ?? "drained"), (p) => p.stopped)
    }),
).pipe(Command.withDescription("run one akis node (worker, gateway, notifier, api roles from node.roles); prints one JSON event per line"))
