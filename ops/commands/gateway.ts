/** `ops gateway`: runs a standalone device gateway (mTLS listener → JetStream) from the config. */
import { Option } from "effect"
import { Command } from "effect/cli"
import { service } from "../lib/cli/service.ts"
import { configFlag } from "../lib/cli/flags.ts"
import { openGatewayProcess } from "../lib/gateway-process.ts"

export const gateway = Command.make(
  "gateway",
  { config: configFlag },
  ({ config }) =>
    // On SIGINT/SIGTERM the command is interrupted and the gateway drained.
    service(() => openGatewayProcess(Option.getOrUndefined(config)), (p) => p.close()),
).pipe(Command.withDescription("run a device gateway on gateway.host:gateway.port until SIGTERM/SIGINT"))
