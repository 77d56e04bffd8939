/**
 * The gateway's side of JetStream: ensures the telemetry stream and publishes batches, on the
 * ports of runtime/nats (the NATS adapter, or the in-memory twin in tests).
 */
import type { NatsPorts, PubAck, Setup } from "../runtime/nats/ports.ts"
import { telemetrySubject } from "../runtime/shard.ts"
import { definition, names, type StreamDef, type TopologyLog, type TopologyOptions } from "../runtime/nats/topology.ts"
import { NatsDisconnected } from "./errors.ts"

/** Name and subjects of the telemetry stream (the row in runtime/nats/topology.ts). */
export const telemetryStream = { name: names.telemetry, subjects: (definition(names.telemetry) as StreamDef).subjects } as const

/**
 * Checks stream AKIS_TLM against the configuration through the topology module: creates it when
 * missing (and these credentials may), waits for it when they may not (the gateway role), and
 * refuses (TopologyConflict) when it exists with other settings.
 */
export const ensureTelemetryStream = (setup: Setup, o: TopologyOptions, log?: TopologyLog): Promise<void> =>
  setup.ensure([names.telemetry], o, log)

/**
 * `publish(shard, bytes, msgId)` onto `akis.tlm.<shard>`, resolving on the PubAck. While the
 * connection is down it rejects at once instead of letting the client queue the batch: the ingest
 * core retries with back-off, so a long outage cannot pile up retried batches in memory.
 * The ingest hot path: subjects are made once per shard, and the port's publish hands the
 * library's promise through (no await or object of its own per batch).
 */
export const makeBatchPublisher = (nats: NatsPorts, partitions: number, timeoutMs = 5000) => {
  const subjects = Array.from({ length: partitions }, (_, s) => telemetrySubject(s))
  return (shard: number, bytes: Uint8Array, msgId: string): Promise<PubAck> =>
    nats.connected()
      ? nats.js.publish(subjects[shard] ?? telemetrySubject(shard), bytes, { msgId, timeoutMs })
      : Promise.reject(new NatsDisconnected({ message: "NATS connection is down; batch not sent" }))
}
