/**
 * Public surface of gateway/: device ingress. `startGateway(config, deps)` runs the mTLS listener
 * inside the current process and publishes to JetStream through `deps.nats`.
 */
import { join } from "node:path"
import { readFileSync } from "node:fs"
import type { AkisConfig } from "../config/index.ts"
import { loadDeviceSchema, type DeviceSchema } from "../config/device-schema.ts"
import { ensureTelemetryStream, makeBatchPublisher } from "./jetstream.ts"
import { type Clock, systemClock } from "../runtime/clock.ts"
import type { Bus, NatsPorts } from "../runtime/nats/ports.ts"
import { topologyOptions } from "../runtime/nats/topology.ts"
import { newMetrics, type GatewayMetrics } from "./metrics.ts"
import { ClusterLag } from "./cluster-lag.ts"
import { LagReport, orUndefined } from "../runtime/wire.ts"
import { listen, type Listener } from "./server.ts"

export { ErrCode, errLine, ackLine, readingErrCodes } from "./codes.ts"
export { isDeviceId } from "./device-id.ts"
export { Framer, FrameKind, frameMsgpack } from "./framer.ts"
export { ensureTelemetryStream, telemetryStream } from "./jetstream.ts"
export type { GatewayMetrics } from "./metrics.ts"
export { CrlUnreadable, NatsDisconnected } from "./errors.ts"
export type { TlsRefusal } from "./tls-auth.ts"

export interface GatewayDeps {
  /** NATS to publish on, as ports (`natsPorts(nc)` of a connection with `maxReconnectAttempts: -1`, so an outage is waited out). */
  readonly nats: NatsPorts
  /** Device schema; default: `config.gateway.deviceSchema` or the bus schema. */
  readonly schema?: DeviceSchema
  readonly log?: (line: string) => void
  /** Time and timers (default: the system clock). */
  readonly clock?: Clock
  /** Unique per process; default random. Prefixes JetStream message ids (de-duplication). */
  readonly instanceId?: string
  /** Skip creating/updating the AKIS_TLM stream (when the caller did). */
  readonly skipEnsureStream?: boolean
}

export interface Gateway {
  /** The port actually listened on (config port 0 = any free port). */
  readonly port: number
  readonly metrics: GatewayMetrics
  /** Readings accepted and not yet durable. */
  buffered(): number
  /** Open device connections. */
  connections(): number
  stop(opts?: { drainMs?: number }): Promise<void>
}

/** Starts device ingress as configured by `config.gateway`. */
export const startGateway = async (config: AkisConfig, deps: GatewayDeps): Promise<Gateway> => {
  const g = config.gateway
  const path = (file: string, dflt: string) => (file !== "" ? file : join(g.certDir, dflt))
  const crlPath = path(g.crlFile, "crl.pem")
  const schema = deps.schema ?? (g.deviceSchema ? loadDeviceSchema(g.deviceSchema) : loadDeviceSchema())
  if (!deps.skipEnsureStream) await ensureTelemetryStream(deps.nats.setup, topologyOptions(config), (e, f) => (deps.log ?? console.error)(`${e} ${JSON.stringify(f)}`))
  const metrics = newMetrics()
  const publish = makeBatchPublisher(deps.nats, config.cluster.partitions, g.publishTimeoutMs)
  const clock = deps.clock ?? systemClock
  const lag = followClusterLag(deps.nats.bus, new ClusterLag(g.admitMaxLagBatches, 10 * config.node.heartbeatMs), metrics, clock)
  const listener: Listener = await listen({
    host: g.host,
    port: g.port,
    tls: {
      cert: readFileSync(path(g.certFile, "server.crt"), "utf8"),
      key: readFileSync(path(g.keyFile, "server.key"), "utf8"),
      ca: readFileSync(path(g.caFile, "ca.crt"), "utf8"),
      caFile: path(g.caFile, "ca.crt"),
      // Watched even when it does not exist yet: a CRL issued after the start is picked up.
      crlFile: crlPath,
    },
    schema,
    partitions: config.cluster.partitions,
    limits: {
      maxFrameBytes: g.maxFrameBytes, maxErrors: g.maxErrors, maxReadingsPerSec: g.maxReadingsPerSec,
      maxFutureSkewMs: g.maxFutureSkewMs, maxPastSkewMs: g.maxPastSkewMs, idleTimeoutMs: g.idleTimeoutMs,
      maxConnections: g.maxConnections, maxHandshakesPerSec: g.maxHandshakesPerSec, maxHandshakesPerSecPerAddress: g.maxHandshakesPerSecPerAddress,
      handshakeTimeoutMs: g.handshakeTimeoutMs, firstFrameTimeoutMs: g.firstFrameTimeoutMs,
    },
    ingest: {
      flushBytes: g.flushBytes, flushMs: g.flushMs, maxInFlight: g.maxInFlight, maxBufferedReadings: g.maxBufferedReadings,
      instanceId: deps.instanceId ?? crypto.randomUUID().slice(0, 12),
      publish,
    },
    crlReloadMs: g.crlReloadMs,
    lagging: (now) => lag.over(now),
    metrics,
    clock,
    log: deps.log ?? ((l) => console.error(l)),
  })
  return {
    port: listener.port,
    metrics,
    buffered: () => listener.ingest.buffered,
    connections: () => listener.devices.size,
    stop: async (opts) => {
      lag.unsubscribe()
      await listener.stop(opts)
    },
  }
}

/**
 * Follows the nodes' lag reports (`akis.ctl.lag.<node>`) into `lag` and the metrics gauge. A report
 * that does not decode is ignored: admission then goes by the others.
 */
const followClusterLag = (bus: Bus, lag: ClusterLag, metrics: GatewayMetrics, clock: Clock) => {
  const sub = bus.subscribe("akis.ctl.lag.>", (m) => {
    const now = clock.now()
    const r = orUndefined(() => LagReport.fromJson(m.data))
    if (r) lag.note(r, now)
    metrics.cluster_lag_batches = lag.worst(now).lagBatches
  })
  return { over: (now: number) => lag.over(now), unsubscribe: () => sub.unsubscribe() }
}
