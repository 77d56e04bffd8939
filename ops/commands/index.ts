import { bench } from "./bench.ts"
import { cluster, drain } from "./cluster.ts"

/** Every `ops` subcommand. Keep one line per command file. */
export const commands = [bench, cluster, drain] as const
