/**
 * The gateway's JetStream adapter: ensures the telemetry stream and publishes batches. The only
 * gateway file that imports `@nats-io/*`.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/transport-node"
import { telemetrySubject } from "../runtime/shard.ts"
import { NatsDisconnected } from "./errors.ts"

/** Name and subjects of the telemetry stream (DESIGN "Coordination on JetStream"). */
export const telemetryStream = { name: "AKIS_TLM", subjects: ["akis.tlm.*"] } as const

const hoursToNanos = (h: number): number => h * 3_600_000_000_000

/**
 * Creates stream AKIS_TLM (file storage, limits retention, `maxAgeHours`, `replicas`) or, when it
 * exists, updates max age and subjects to match; idempotent, safe to call from every gateway.
 */
export const ensureTelemetryStream = async (nc: NatsConnection, opts: { maxAgeHours: number; replicas: number }): Promise<void> => {
  const jsm = await jetstreamManager(nc)
  const want = {
    name: telemetryStream.name,
    subjects: [...telemetryStream.subjects],
    storage: "file",
    retention: "limits",
    max_age: hoursToNanos(opts.maxAgeHours),
    num_replicas: opts.replicas,
    duplicate_window: 120_000_000_000,
  } as const
  let exists = true
  const info = await jsm.streams.info(want.name).catch((e: unknown) => {
    if (/not found/i.test(String((e as Error)?.message))) {
      exists = false
      return undefined
    }
    throw e
  })
  if (!exists) {
    await jsm.streams.add(want as never)
    return
  }
  const c = info!.config
  if (c.max_age !== want.max_age || c.subjects.join() !== want.subjects.join()) {
    await jsm.streams.update(want.name, { ...c, max_age: want.max_age, subjects: want.subjects } as never)
  }
}

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
