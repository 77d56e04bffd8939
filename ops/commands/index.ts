import { bench } from "./bench.ts"
import { rules } from "./rules.ts"

/** Every `ops` subcommand. Keep one line per command file. */
export const commands = [bench, rules] as const
