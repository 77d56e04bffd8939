/** `ops node` (`bun run node`): one akis node with the roles of node.roles, until SIGTERM/SIGINT or `ops drain`. */
import { Option } from "effect"
import { Command } from "effect/cli"
import { service } from "../lib/cli/service.ts"
import { configFlag } from "../lib/cli/flags.ts"
import { stopRequested } from "../lib/cli/stop.ts"
import { startNodeProcess } from "../lib/node-process.ts"

export const node = Command.make(
  "node",
  { config: configFlag },
  ({ config }) =>
    // Stopping drains the node, whether it was signalled (interrupt) or drained itself (`ops drain`).
    service(() => startNodeProcess(Option.getOrUndefined(config)), (p) => p.shutdown(stopRequested() ?? "drained"), (p) => p.stopped),
).pipe(Command.withDescription("run one akis node (worker, gateway, notifier, api roles from node.roles); prints one JSON event per line"))
