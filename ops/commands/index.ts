import { bench } from "./bench.ts"
import { capacity } from "./capacity.ts"

/** Every `ops` subcommand. Keep one line per command file. */
export const commands = [bench, capacity] as const
