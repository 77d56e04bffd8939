import { bench } from "./bench.ts"

/** Every `ops` subcommand. Keep one line per command file. */
export const commands = [bench] as const
