/** `ops gateway`: runs a standalone device gateway (mTLS listener → JetStream) from the config. */
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { runGatewayProcess } from "../gateway-main.ts"

export const gateway = Command.make(
  "gateway",
  { config: Flag.String("config").pipe(Flag.withDescription("YAML file merged over config/default.yaml"), Flag.optional) },
  Effect.fn(function* ({ config }) {
    yield* Effect.promise(() => runGatewayProcess(Option.getOrUndefined(config)))
  }),
).pipe(Command.withDescription("run a device gateway on gateway.host:gateway.port until SIGTERM/SIGINT"))
