import { bench } from "./bench.ts"
import { certs } from "./certs.ts"
import { gateway } from "./gateway.ts"
import { loadgen } from "./loadgen.ts"

/** Every `ops` subcommand. Keep one line per command file. */
export const commands = [bench, certs, gateway, loadgen] as const
