import { bench } from "./bench.ts"
import { benchAll } from "./bench-all.ts"
import { capacity } from "./capacity.ts"
import { certs } from "./certs.ts"
import { cluster, drain } from "./cluster.ts"
import { dlq } from "./dlq.ts"
import { gateway } from "./gateway.ts"
import { actor, consumers, kv, streams } from "./inspect.ts"
import { lint } from "./lint.ts"
import { loadgen } from "./loadgen.ts"
import { localCluster } from "./local-cluster.ts"
import { natsAuthCommand, topologyCommand } from "./nats-auth.ts"
import { node } from "./node.ts"
import { notify } from "./notify.ts"
import { rules } from "./rules.ts"
import { tokens } from "./tokens.ts"
import { up } from "./up.ts"

/** Every `ops` subcommand, running things first, then inspecting, then managing. */
export const commands = [
  up, node, localCluster, gateway, loadgen, bench, benchAll,
  cluster, drain, streams, consumers, kv, actor, capacity, dlq, notify,
  rules, certs, natsAuthCommand, topologyCommand, tokens, lint,
] as const
