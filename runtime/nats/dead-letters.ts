import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream"
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node"

/**
 * Dead letters: messages a consumer cannot process (a malformed reading batch, an absurd alert)
 * are copied here with the reason, counted, and the consumer goes on. The copy keeps the original
 * bytes and where they came from, so `ops dlq replay` can publish them again once the cause is
 * fixed. The stream is created with the others (topology.ts).
 */
export const deadLetterStream = { name: "AKIS_DLQ", subjects: ["akis.dlq.>"], maxAgeHours: 30 * 24 } as const

/** Where a dead letter came from. */
export type DeadLetterSource = "tlm" | "alerts"

export const deadLetterHeaders = {
  reason: "Akis-Dlq-Reason",
  subject: "Akis-Dlq-Subject",
  stream: "Akis-Dlq-Stream",
  seq: "Akis-Dlq-Seq",
  at: "Akis-Dlq-At",
} as const

/** One dead letter as stored. */
export interface DeadLetter {
  readonly source: DeadLetterSource
  readonly reason: string
  /** Subject and stream sequence of the original message. */
  readonly subject: string
  readonly stream: string
  readonly seq: number
  readonly data: Uint8Array
}

/** Subject a dead letter is published on: `akis.dlq.<source>`. */
export const deadLetterSubject = (source: DeadLetterSource): string => `akis.dlq.${source}`

/**
 * Publishes a dead letter (awaited PubAck). The msg id is the original stream and sequence, so a
 * consumer that dead-letters the same message again after a restart stores it once.
 */
export const publishDeadLetter = async (js: JetStreamClient, d: DeadLetter, now: number): Promise<void> => {
  const m = deadLetterMessage(d, now)
  const h = natsHeaders()
  for (const [k, v] of Object.entries(m.headers)) h.set(k, v)
  await js.publish(m.subject, m.data, { headers: h, msgID: m.msgId })
}

/** The message a dead letter is published as (subject, bytes, headers, msg id); for the {@link JetStream} port. */
export const deadLetterMessage = (d: DeadLetter, now: number) => ({
  subject: deadLetterSubject(d.source),
  data: d.data,
  msgId: `${d.stream}:${d.seq}`,
  headers: {
    [deadLetterHeaders.reason]: d.reason.slice(0, 1024).replace(/[\r\n]+/g, " "),
    [deadLetterHeaders.subject]: d.subject,
    [deadLetterHeaders.stream]: d.stream,
    [deadLetterHeaders.seq]: String(d.seq),
    [deadLetterHeaders.at]: String(now),
  } as Record<string, string>,
})

/** A dead letter as listed: where it sits in AKIS_DLQ and what it was. */
export interface StoredDeadLetter extends DeadLetter {
  /** Sequence in AKIS_DLQ (what `ops dlq replay` takes). */
  readonly dlqSeq: number
  readonly at: number
}

const sourceOf = (subject: string): DeadLetterSource => (subject.endsWith(".alerts") ? "alerts" : "tlm")

/** The newest `limit` dead letters, oldest first (reads by sequence; deleted ones are skipped). */
export const listDeadLetters = async (jsm: JetStreamManager, limit = 100): Promise<StoredDeadLetter[]> => {
  let state
  try {
    state = (await jsm.streams.info(deadLetterStream.name)).state
  } catch (e) {
    if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound) return []
    throw e
  }
  const out: StoredDeadLetter[] = []
  for (let seq = state.last_seq; seq >= state.first_seq && out.length < limit && state.messages > 0; seq--) {
    const m = await jsm.streams.getMessage(deadLetterStream.name, { seq }).catch(() => null)
    if (m) out.push(stored(m.seq, m.subject, m.header, m.data))
  }
  return out.reverse()
}

const stored = (dlqSeq: number, subject: string, h: MsgHdrs | undefined, data: Uint8Array): StoredDeadLetter => ({
  dlqSeq, source: sourceOf(subject), reason: h?.get(deadLetterHeaders.reason) ?? "", subject: h?.get(deadLetterHeaders.subject) ?? "",
  stream: h?.get(deadLetterHeaders.stream) ?? "", seq: Number(h?.get(deadLetterHeaders.seq) ?? 0), at: Number(h?.get(deadLetterHeaders.at) ?? 0), data,
})

/**
 * Publishes a dead letter's original bytes to its original subject again (after the cause was
 * fixed) and removes it from AKIS_DLQ. A message still poison is dead-lettered again by its
 * consumer, under a new sequence.
 */
export const replayDeadLetter = async (js: JetStreamClient, jsm: JetStreamManager, dlqSeq: number): Promise<StoredDeadLetter> => {
  const m = await jsm.streams.getMessage(deadLetterStream.name, { seq: dlqSeq }).catch(() => null)
  if (!m) throw new RangeError(`there is no dead letter ${dlqSeq} in ${deadLetterStream.name} (see ops dlq list)`)
  const d = stored(m.seq, m.subject, m.header, m.data)
  if (!/^akis\.(tlm\.\d+|alerts\.[a-z]+\.[A-Za-z0-9_-]+)$/.test(d.subject)) throw new RangeError(`dead letter ${dlqSeq} has no akis subject to replay to (${JSON.stringify(d.subject)})`)
  await js.publish(d.subject, d.data, { msgID: `dlq-replay:${dlqSeq}` })
  await jsm.streams.deleteMessage(deadLetterStream.name, dlqSeq)
  return d
}
