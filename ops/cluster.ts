/**
 * `bun run cluster [--nodes N] [--config file]`: a local akis cluster: nats-server (data under
 * .akis/) plus N nodes, supervised; Ctrl-C drains the nodes and stops everything cleanly.
 */
import { parseArgs } from "node:util"
import { ConfigInvalid, loadConfig } from "../config/index.ts"
import { startLocalCluster } from "./lib/launcher.ts"
import { defaultNodeCount } from "./lib/layout.ts"

const { values } = parseArgs({ options: { nodes: { type: "string", default: String(defaultNodeCount()) }, config: { type: "string" } } })
const nodes = Number(values.nodes)
if (!Number.isInteger(nodes) || nodes < 1 || nodes > 32) {
  console.error(`--nodes must be a whole number from 1 to 32 (got '${values.nodes}')`)
  process.exit(2)
}
try {
  const config = loadConfig({ file: values.config })
  const cluster = await startLocalCluster({ config, nodes, echo: true, env: values.config ? { AKIS_CONFIG: values.config } : {} })
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    await cluster.stop()
    process.exit(0)
  }
  process.on("SIGINT", stop)
  process.on("SIGTERM", stop)
} catch (e) {
  console.error(e instanceof ConfigInvalid ? e.message : `cannot start the cluster: ${(e as Error).message}`)
  process.exit(1)
}
