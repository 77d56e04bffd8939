/** `ops gateway`: runs a standalone device gateway (mTLS listener → JetStream) from the config. */
import { Effect, Option } from "effect"
import { Command } from "effect/cli"
import { attempt } from "../lib/cli/errors.ts"
import { configFlag } from "../lib/cli/flags.ts"
import { openGatewayProcess } from "../lib/gateway-process.ts"

export const gateway = Command.make(
  "gateway",
  { config: configFlag },
  ({ config }) =>
    // The gateway is a scoped resource: on SIGINT/SIGTERM the command is interrupted and the release drains it.
    Effect.acquireRelease(
      attempt(() => openGatewayProcess(Option.getOrUndefined(config))),
      (p) => Effect.promise(() => p.close()),
    ).pipe(Effect.andThen(Effect.never), Effect.scoped),
).pipe(Command.withDescription("run a device gateway on gateway.host:gateway.port until SIGTERM/SIGINT"))
