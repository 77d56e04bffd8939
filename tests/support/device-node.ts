/**
 * A worker node hosting the real device actor on a rules file (`AKIS_RULES__FILE`), without a
 * sink or gateway: for tests of rule timing across shard moves that need NATS only. Config comes
 * from the environment like any node. Prints JSON event lines.
 */
import { loadConfig } from "../../config/index.ts"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { startDeviceRules } from "../../ops/lib/device-rules.ts"
import { connectNats, startNode, systemClock, type ActorKind } from "../../runtime/index.ts"
import { natsAuth } from "../../runtime/nats/auth.ts"
import { topologyOptions } from "../../runtime/nats/topology.ts"
import { ruleLimitsOf } from "../../config/rules/index.ts"

const cfg = loadConfig()
const log = (event: string, fields: Record<string, unknown>) => console.log(JSON.stringify({ t: Date.now(), event, ...fields }))
const auth = natsAuth(cfg.nats, "node")
const topology = topologyOptions(cfg)
const nats = await connectNats({ servers: cfg.nats.servers, auth, name: "akis-test-device-node" })
const rules = await startDeviceRules(nats.nc, loadDeviceSchema(), cfg.rules.file, log, topology, ruleLimitsOf(cfg))
const node = await startNode(
  {
    id: cfg.node.id, roles: cfg.node.roles, partitions: cfg.cluster.partitions, servers: cfg.nats.servers,
    auth: cfg.nats, heartbeatMs: cfg.node.heartbeatMs, suspicionMs: cfg.node.suspicionMs, watchdogMs: cfg.node.watchdogMs, ...topology,
    host: { checkpointMs: cfg.node.checkpointMs, checkpointBytesPerSec: cfg.node.checkpointBytesPerSec, actorIdleMs: cfg.node.actorIdleMs, maxPendingRows: 100_000, tickMs: cfg.rules.tickMs },
  },
  { kind: rules.kind as ActorKind<unknown>, clock: systemClock, log },
)
const stop = async () => {
  await node.drain()
  await rules.stop()
  await nats.nc.drain()
  process.exit(0)
}
process.on("SIGTERM", () => void stop())
process.on("SIGINT", () => void stop())
