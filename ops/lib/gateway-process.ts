/**
 * A standalone gateway process (`ops gateway [--config file]`, `bun ops/gateway-main.ts`).
 * Reads the config (AKIS_* env overrides apply, e.g. AKIS_GATEWAY__PORT=7444), connects to NATS
 * (reconnecting forever, so an outage is waited out), ensures the AKIS_TLM stream and listens for
 * devices. Prints `gateway listening on <host>:<port>` once ready; SIGTERM/SIGINT drain and exit.
 */
import { loadConfig } from "../../config/index.ts"
import { startGateway } from "../../gateway/index.ts"
import { natsAuth } from "../../runtime/nats/auth.ts"
import { connectNats } from "../../runtime/nats/connection.ts"
import { drain } from "../../runtime/nats/client.ts"
import { systemClock } from "../../runtime/clock.ts"
import { natsPorts } from "../../runtime/nats/nats-ports.ts"
import { startGatewayCrlKeeper } from "../certs/crl-keeper.ts"

/** A running gateway with its own NATS connection; `close()` drains both. */
export interface GatewayProcess {
  readonly port: number
  close(): Promise<void>
}

/** Starts a gateway from the config; counters go to stderr every `statsMs`. */
export const openGatewayProcess = async (configFile?: string, statsMs = 10_000): Promise<GatewayProcess> => {
  const config = loadConfig({ file: configFile })
  const { nc } = await connectNats({ servers: config.nats.servers, auth: natsAuth(config.nats, "gateway"), name: `akis-gateway-${process.pid}` })
  const gw = await startGateway(config, { nats: await natsPorts(nc) })
  console.log(`gateway listening on ${config.gateway.host}:${gw.port}`)
  const stopCrlKeeper = startGatewayCrlKeeper(config.gateway, (line) => console.error(line))
  const stopStats = systemClock.every(statsMs, () => {
    const m = gw.metrics
    console.error(`gateway: accepted=${m.accepted} durable=${m.durable} acked=${m.acked} conns=${m.connections_open} buffered=${gw.buffered()} pauses=${m.backpressure_pauses} publish_errors=${m.publish_errors} refused=${JSON.stringify(m.tls_refused_by_reason)} rejected=${JSON.stringify(m.rejected_by_code)}`)
  })
  return {
    port: gw.port,
    async close() {
      stopStats()
      stopCrlKeeper()
      await gw.stop()
      await drain(nc)
      console.error("gateway: stopped")
    },
  }
}
