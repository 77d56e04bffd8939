import { bench } from "./bench.ts"
import { capacity } from "./capacity.ts"
import { certs } from "./certs.ts"
import { cluster, drain } from "./cluster.ts"
import { dlq } from "./dlq.ts"
import { gateway } from "./gateway.ts"
import { actor, consumers, kv, streams } from "./inspect.ts"
import { loadgen } from "./loadgen.ts"
import { natsAuthCommand, topologyCommand } from "./nats-auth.ts"
import { notify } from "./notify.ts"
import { rules } from "./rules.ts"
import { tokens } from "./tokens.ts"

/** Every `ops` subcommand. Keep one line per command file. */
export const commands = [bench, cluster, drain, streams, consumers, kv, actor, capacity, certs, dlq, gateway, loadgen, rules, notify, natsAuthCommand, topologyCommand, tokens] as const
