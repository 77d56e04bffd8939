/** `ops gateway`: runs a standalone device gateway (mTLS listener → JetStream) from the config. */
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { openGatewayProcess } from "../gateway-main.ts"

export const gateway = Command.make(
  "gateway",
  { config: Flag.String("config").pipe(Flag.withDescription("YAML file merged over config/default.yaml"), Flag.optional) },
  ({ config }) =>
    // The gateway is a scoped resource: on SIGINT/SIGTERM the runtime interrupts and the release drains it.
    Effect.acquireRelease(
      Effect.promise(() => openGatewayProcess(Option.getOrUndefined(config))),
      (p) => Effect.promise(() => p.close()),
    ).pipe(Effect.andThen(Effect.never), Effect.scoped),
).pipe(Command.withDescription("run a device gateway on gateway.host:gateway.port until SIGTERM/SIGINT"))
