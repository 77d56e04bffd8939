/**
 * Names, subjects and consumer settings of the notifier and the interpreter. The dead-letter
 * stream and the `akis_notify` bucket are rows of runtime's topology table (settings and role
 * permissions); the durables akis_notify* / akis_interpret* on AKIS_ALERTS are the notifier's own.
 */
import { AckPolicy, DeliverPolicy, StorageType, jetstreamManager, type ConsumerConfig } from "@nats-io/jetstream"
import { Kvm, type KV } from "@nats-io/kv"
import { ensureTopology, names, openBucket, type TopologyOptions } from "../../runtime/nats/topology.ts"
import type { NatsConnection } from "@nats-io/transport-node"

/** Names and subjects. */
export const notifyTopology = {
  alertsStream: "AKIS_ALERTS",
  dlqStream: "AKIS_DLQ",
  dlqSubjects: ["akis.dlq.>"],
  /** Dead letters of a notifier channel: `akis.dlq.notify.<channel>`. */
  dlqSubject: (channel: string) => `akis.dlq.notify.${channel}`,
  /** An interpreter's explanation of a transition: `akis.alerts.explanation.<device>`. */
  explanationSubject: (device: string) => `akis.alerts.explanation.${device}`,
  /** Dead letters kept this long (they wait for a person). */
  dlqMaxAgeHours: 24 * 30,
  /** The notifier bucket's values (lease, state, delivered marks) expire after this long unchanged. */
  bucketMaxAgeHours: 24 * 7,
} as const

/**
 * The durable pull consumer settings of the notifier and the interpreter (`ackWaitMs`: redelivery
 * after a silent node). A consumer created on a stream that already holds weeks of alerts starts
 * at `startAt` (when given), so a first deployment does not notify or explain old history.
 */
export const notifyConsumerConfig = (durable: string, ackWaitMs: number, maxAckPending: number, startAt?: Date): Partial<ConsumerConfig> => ({
  durable_name: durable, ack_policy: AckPolicy.Explicit, ack_wait: ackWaitMs * 1e6, max_ack_pending: maxAckPending,
  ...(startAt ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: startAt.toISOString() } : { deliver_policy: DeliverPolicy.All }),
})

/** Creates a durable consumer if absent; an existing one keeps its settings except ack_wait / max_ack_pending, which follow config. */
export const ensureConsumer = async (nc: NatsConnection, stream: string, cfg: Partial<ConsumerConfig>): Promise<void> => {
  const jsm = await jetstreamManager(nc)
  try {
    const info = await jsm.consumers.info(stream, cfg.durable_name!)
    if (info.config.ack_wait !== cfg.ack_wait || info.config.max_ack_pending !== cfg.max_ack_pending) {
      await jsm.consumers.update(stream, cfg.durable_name!, { ack_wait: cfg.ack_wait, max_ack_pending: cfg.max_ack_pending }).catch(() => {})
    }
  } catch {
    await jsm.consumers.add(stream, cfg).catch(async (e) => {
      await jsm.consumers.info(stream, cfg.durable_name!).catch(() => Promise.reject(e)) // created by another node meanwhile
    })
  }
}

/** Checks (creating if absent) the dead-letter stream: its row in the topology table. */
export const ensureDlqStream = async (nc: NatsConnection, topology: TopologyOptions): Promise<void> =>
  ensureTopology(await jetstreamManager(nc), topology, { only: [names.deadLetters] })

/** Opens (creating if absent) the notifier's KV bucket: the table's row when it has the default name. */
export const openNotifyBucket = async (nc: NatsConnection, bucket: string, topology: TopologyOptions): Promise<KV> =>
  bucket === names.notify
    ? openBucket(new Kvm(nc), bucket, topology)
    : new Kvm(nc).create(bucket, { history: 1, replicas: topology.replicas, storage: StorageType.File, ttl: notifyTopology.bucketMaxAgeHours * 3600 * 1000 })
