/**
 * Names, subjects and consumer settings of the notifier and the interpreter. The dead-letter
 * stream and the `akis_notify` bucket are rows of runtime's topology table (settings and role
 * permissions); the durables akis_notify* / akis_interpret* on AKIS_ALERTS are the notifier's own.
 */
import type { DurableSpec, Kv, Setup } from "../../runtime/nats/ports.ts"
import { names, type TopologyOptions } from "../../runtime/nats/topology.ts"

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
 * The durable pull consumer of the notifier and the interpreter (`ackWaitMs`: redelivery after a
 * silent node). A consumer created on a stream that already holds weeks of alerts starts at
 * `startAt` (epoch ms, when given), so a first deployment does not notify or explain old history.
 * An existing one keeps its position; its ack wait and max ack pending follow config.
 */
export const notifyDurable = (durable: string, ackWaitMs: number, maxAckPending: number, startAt?: number): DurableSpec => ({
  name: durable, ackWaitMs, maxAckPending, startAt,
})

/** Checks (creating if absent) the dead-letter stream: its row in the topology table. */
export const ensureDlqStream = (setup: Setup, topology: TopologyOptions): Promise<void> => setup.ensure([names.deadLetters], topology)

/** Opens (creating if absent) the notifier's KV bucket: the table's row when it has the default name, else one of its own with the same value TTL. */
export const openNotifyBucket = (setup: Setup, bucket: string, topology: TopologyOptions): Promise<Kv> =>
  setup.bucket(bucket, topology, bucket === names.notify ? undefined : { ttlMs: notifyTopology.bucketMaxAgeHours * 3600 * 1000 })
