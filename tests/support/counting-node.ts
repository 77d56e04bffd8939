/**
 * A node process hosting the counting actor (tests and the failover benchmark). Config comes from
 * the environment like any node (AKIS_NATS__SERVERS, AKIS_NODE__ID, ...). Prints JSON event lines.
 */
import { loadConfig } from "../../config/index.ts"
import { startNode, systemClock, type ActorKind } from "../../runtime/index.ts"
import { topologyOptions } from "../../runtime/nats/topology.ts"
import { countingKind } from "./counting-kind.ts"

const cfg = loadConfig()
const log = (event: string, fields: Record<string, unknown>) => console.log(JSON.stringify({ t: Date.now(), event, ...fields }))
const node = await startNode(
  {
    id: cfg.node.id, roles: cfg.node.roles, partitions: cfg.cluster.partitions, servers: cfg.nats.servers, auth: cfg.nats,
    heartbeatMs: cfg.node.heartbeatMs, suspicionMs: cfg.node.suspicionMs, watchdogMs: cfg.node.watchdogMs, ...topologyOptions(cfg),
    host: { checkpointMs: cfg.node.checkpointMs, checkpointBytesPerSec: cfg.node.checkpointBytesPerSec, actorIdleMs: cfg.node.actorIdleMs, maxPendingRows: 100_000 },
  },
  { kind: countingKind as ActorKind<unknown>, clock: systemClock, log },
)
process.on("SIGTERM", () => void node.drain().then(() => process.exit(0)))
process.on("SIGINT", () => void node.drain().then(() => process.exit(0)))
