import { bench } from "./bench.ts"
import { cluster, drain } from "./cluster.ts"
import { actor, consumers, kv, streams } from "./inspect.ts"
import { rules } from "./rules.ts"

/** Every `ops` subcommand. Keep one line per command file. */
export const commands = [bench, cluster, drain, streams, consumers, kv, actor, rules] as const
