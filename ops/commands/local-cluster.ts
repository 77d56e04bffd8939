/**
 * `ops local-cluster [--nodes N] [--config file]` (`bun run cluster`): a local akis cluster:
 * nats-server (data under .akis/) plus N nodes, supervised; Ctrl-C drains the nodes and stops
 * everything cleanly.
 */
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { loadConfig } from "../../config/index.ts"
import { attempt, CommandFailed, usage } from "../lib/cli/errors.ts"
import { configFlag } from "../lib/cli/flags.ts"
import { service } from "../lib/cli/service.ts"
import { startLocalCluster } from "../lib/launcher.ts"
import { defaultNodeCount } from "../lib/layout.ts"

export const localCluster = Command.make(
  "local-cluster",
  { nodes: Flag.Int("nodes").pipe(Flag.withDescription("akis nodes to start (1 to 32; default one per core, 2–3)"), Flag.optional), config: configFlag },
  Effect.fn(function* (f) {
    const nodes = Option.getOrElse(f.nodes, () => defaultNodeCount())
    yield* usage((nodes < 1 || nodes > 32) && `--nodes must be a whole number from 1 to 32 (got '${nodes}')`)
    const file = Option.getOrUndefined(f.config)
    const cfg = yield* attempt(() => loadConfig({ file }))
    yield* service(() => startLocalCluster({ config: cfg, nodes, echo: true, env: file ? { AKIS_CONFIG: file } : {} }), (cluster) => cluster.stop())
      .pipe(Effect.mapError((e) => (e._tag === "CommandFailed" ? new CommandFailed({ message: `cannot start the cluster: ${e.message}` }) : e)))
  }),
).pipe(Command.withDescription("run nats-server and N supervised akis nodes locally until Ctrl-C (`bun run cluster`)"))
