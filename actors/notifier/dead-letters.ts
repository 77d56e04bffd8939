import { jetstream, DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/transport-node"
import { jsonOf, type Notification } from "./message.ts"
import { notifyTopology } from "./topology.ts"

/** A dead letter: a notification that failed `attempts` times (or once, permanently). */
export interface DeadLetter {
  readonly key: string
  readonly channel: string
  readonly attempts: number
  readonly error: string
  /** Epoch ms when it was given up. */
  readonly at: number
  /** The notification as the webhook would have sent it. */
  readonly notification: Record<string, unknown>
  /** Stream sequence in AKIS_DLQ. */
  readonly seq?: number
}

/** Publishes a dead letter to `akis.dlq.notify.<channel>`; the msg id (the delivery key) keeps it once. */
export const deadLetter = async (js: JetStreamClient, n: Notification, attempts: number, error: string, at: number): Promise<void> => {
  const d: DeadLetter = { key: n.key, channel: n.channel, attempts, error, at, notification: jsonOf(n) }
  await js.publish(notifyTopology.dlqSubject(n.channel), JSON.stringify(d), { msgID: `dlq:${n.key}` })
}

/** Reads up to `limit` dead letters of the notifiers, oldest first (`ops notify dead-letters`, the API). */
export const listDeadLetters = async (nc: NatsConnection, limit = 1_000): Promise<DeadLetter[]> => {
  const js = jetstream(nc)
  const jsm = await js.jetstreamManager()
  const info = await jsm.streams.info(notifyTopology.dlqStream).catch(() => undefined)
  if (!info || info.state.messages === 0) return []
  const c = await js.consumers.get(notifyTopology.dlqStream, { filter_subjects: "akis.dlq.notify.>", deliver_policy: DeliverPolicy.All })
  const out: DeadLetter[] = []
  const msgs = await c.fetch({ max_messages: limit, expires: 2_000 })
  for await (const m of msgs) {
    try {
      out.push({ ...(m.json<DeadLetter>()), seq: m.seq })
    } catch {
      // not ours
    }
    if (m.info.pending === 0 || out.length >= limit) break
  }
  return out
}
