/**
 * The gateway's JetStream adapter: ensures the telemetry stream and publishes batches. The only
 * gateway file that imports `@nats-io/*`.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/transport-node"
import { telemetrySubject } from "../runtime/shard.ts"
import { definition, ensureTopology, names, type StreamDef, type TopologyLog, type TopologyOptions } from "../runtime/nats/topology.ts"
import { NatsDisconnected } from "./errors.ts"

/** Name and subjects of the telemetry stream (the row in runtime/nats/topology.ts). */
export const telemetryStream = { name: names.telemetry, subjects: (definition(names.telemetry) as StreamDef).subjects } as const

/**
 * Checks stream AKIS_TLM against the configuration through the topology module: creates it when
 * missing (and these credentials may), waits for it when they may not (the gateway role), and
 * refuses (TopologyConflict) when it exists with other settings.
 */
export const ensureTelemetryStream = async (nc: NatsConnection, o: TopologyOptions, log?: TopologyLog): Promise<void> =>
  ensureTopology(await jetstreamManager(nc), o, { only: [names.telemetry], log })

/**
 * `publish(shard, bytes, msgId)` onto `akis.tlm.<shard>`, resolving on the PubAck. While the
 * connection is down it rejects at once instead of letting the client queue the batch: the ingest
 * core retries with back-off, so a long outage cannot pile up retried batches in memory.
 */
export const makeBatchPublisher = (nc: NatsConnection, timeoutMs = 5000) => {
  const js = jetstream(nc, { timeout: timeoutMs })
  let connected = true
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") connected = false
      else if (s.type === "reconnect") connected = true
    }
  })().catch(() => {})
  return (shard: number, bytes: Uint8Array, msgId: string) =>
    connected && !nc.isClosed()
      ? js.publish(telemetrySubject(shard), bytes, { msgID: msgId, timeout: timeoutMs })
      : Promise.reject(new NatsDisconnected({ message: "NATS connection is down; batch not sent" }))
}
