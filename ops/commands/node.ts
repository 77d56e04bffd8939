/** `ops node` (`bun run node`): one akis node with the roles of node.roles, until SIGTERM/SIGINT or `ops drain`. */
import { Effect, Option } from "effect"
import { Command } from "effect/cli"
import { attempt } from "../lib/cli/errors.ts"
import { configFlag } from "../lib/cli/flags.ts"
import { stopRequested } from "../lib/cli/stop.ts"
import { startNodeProcess } from "../lib/node-process.ts"

export const node = Command.make(
  "node",
  { config: configFlag },
  ({ config }) =>
    // A scoped resource: the release drains the node, whether it was signalled (interrupt) or drained itself.
    Effect.acquireRelease(
      attempt(() => startNodeProcess(Option.getOrUndefined(config))),
      (p) => Effect.promise(() => p.shutdown(stopRequested() ?? "drained")),
    ).pipe(Effect.flatMap((p) => Effect.promise(() => p.stopped)), Effect.scoped),
).pipe(Command.withDescription("run one akis node (worker, gateway, notifier, api roles from node.roles); prints one JSON event per line"))
