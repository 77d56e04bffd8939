import type { JetStream } from "../../runtime/nats/ports.ts"
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

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Publishes a dead letter to `akis.dlq.notify.<channel>`; the msg id (the delivery key) keeps it once. */
export const deadLetter = async (js: JetStream, n: Notification, attempts: number, error: string, at: number): Promise<void> => {
  const d: DeadLetter = { key: n.key, channel: n.channel, attempts, error, at, notification: jsonOf(n) }
  await js.publish(notifyTopology.dlqSubject(n.channel), encoder.encode(JSON.stringify(d)), { msgId: `dlq:${n.key}` })
}

/** Reads up to `limit` dead letters of the notifiers, oldest first (`ops notify dead-letters`, the API). */
export const listDeadLetters = async (js: JetStream, limit = 1_000): Promise<DeadLetter[]> => {
  const state = await js.streamState(notifyTopology.dlqStream).catch(() => undefined)
  if (!state || state.messages === 0) return []
  const c = await js.orderedConsumer(notifyTopology.dlqStream, { filterSubject: "akis.dlq.notify.>" })
  const n = await c.pending(true)
  if (n === 0) return []
  const out: DeadLetter[] = []
  const feed = await c.consume({ maxMessages: Math.min(limit, n), expiresMs: 2_000 })
  try {
    for await (const m of feed) {
      try {
        out.push({ ...(JSON.parse(decoder.decode(m.data)) as DeadLetter), seq: m.seq })
      } catch {
        // not ours
      }
      if (m.info.pending === 0 || out.length >= limit) break
    }
  } finally {
    await feed.close()
  }
  return out
}
