/**
 * A standalone gateway process: `bun ops/gateway-main.ts [--config file]`. Reads the config
 * (AKIS_* env overrides apply, e.g. AKIS_GATEWAY__PORT=7444), connects to NATS (reconnecting
 * forever, so an outage is waited out), ensures the AKIS_TLM stream and listens for devices.
 * Prints `gateway listening on <host>:<port>` once ready; SIGTERM/SIGINT drain and exit.
 */
import { connect } from "@nats-io/transport-node"
import { loadConfig } from "../config/index.ts"
import { startGateway } from "../gateway/index.ts"

const fileArg = process.argv.indexOf("--config")
const config = loadConfig({ file: fileArg > 0 ? process.argv[fileArg + 1] : undefined })
const nc = await connect({
  servers: [...config.nats.servers],
  ...(config.nats.user ? { user: config.nats.user, pass: config.nats.pass } : {}),
  maxReconnectAttempts: -1,
  reconnectTimeWait: 250,
  name: `akis-gateway-${process.pid}`,
})
const gw = await startGateway(config, { nc })
console.log(`gateway listening on ${config.gateway.host}:${gw.port}`)
const metricsTimer = setInterval(() => {
  const m = gw.metrics
  console.error(`gateway: accepted=${m.accepted} durable=${m.durable} acked=${m.acked} conns=${m.connections_open} buffered=${gw.buffered()} pauses=${m.backpressure_pauses} publish_errors=${m.publish_errors}`)
}, 10_000)
const shutdown = async () => {
  clearInterval(metricsTimer)
  await gw.stop()
  await nc.drain().catch(() => {})
  process.exit(0)
}
process.on("SIGTERM", shutdown)
process.on("SIGINT", shutdown)
