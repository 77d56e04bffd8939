import type { Clock } from "../clock.ts"
import { StreamNotFound } from "../errors.ts"
import { Feed, subjectMatches } from "./memory-queue.ts"
import type { AckableMsg, DurableConsumer, JetStream, MessageFeed, PubAck, PublishOptions, StreamMsg, StreamState } from "./ports.ts"

/** A stream of the twin: its subjects and duplicate window, as topology.ts defines them. */
export interface MemoryStreamDef {
  readonly name: string
  readonly subjects: ReadonlyArray<string>
  readonly duplicateWindowMs: number
}

/** A stored message of the twin. */
export interface StoredMsg {
  readonly subject: string
  readonly seq: number
  readonly data: Uint8Array
  readonly headers: Readonly<Record<string, string>> | undefined
  readonly msgId: string | undefined
  /** When it was stored (the injected clock). */
  readonly at: number
}

/** A durable consumer of the twin: where it is, and what it delivered and was not acked yet. */
interface MemoryDurable {
  ackWaitMs: number
  readonly filterSubject: string
  cursor: number
  /** Delivered, unacked: stream sequence → when it may be delivered again. */
  readonly inFlight: Map<number, number>
}

class MemoryStream {
  readonly durables = new Map<string, MemoryDurable>()
  readonly msgs: StoredMsg[] = []
  lastSeq = 0
  readonly ids = new Map<string, { seq: number; at: number }>()
  readonly feeds = new Set<() => void>()
  constructor(readonly def: MemoryStreamDef) {}
  get firstSeq(): number {
    return this.msgs[0]?.seq ?? this.lastSeq + 1
  }
}

/**
 * The in-memory twin of JetStream for the streams it is given: a publish goes to the stream whose
 * subjects match (rejected when none does), gets the next sequence, and a msg id seen within the
 * duplicate window (on the injected clock) returns the first publish's sequence as a duplicate.
 * Ordered consumers deliver the filter's messages from a start sequence in order and then follow
 * new ones; `pending` counts what is left. {@link expire} drops a stream's oldest messages (max age).
 */
export class MemoryJetStream implements JetStream {
  private readonly streams = new Map<string, MemoryStream>()

  constructor(defs: ReadonlyArray<MemoryStreamDef>, private readonly clock: Clock) {
    for (const d of defs) this.streams.set(d.name, new MemoryStream(d))
  }

  async publish(subject: string, data: Uint8Array, opts?: PublishOptions): Promise<PubAck> {
    const s = [...this.streams.values()].find((x) => x.def.subjects.some((p) => subjectMatches(p, subject)))
    if (!s) throw new StreamNotFound({ subject })
    const now = this.clock.now()
    const id = opts?.msgId
    if (id !== undefined) {
      const seen = s.ids.get(id)
      if (seen && now - seen.at < s.def.duplicateWindowMs) return { seq: seen.seq, duplicate: true }
    }
    const seq = ++s.lastSeq
    s.msgs.push({ subject, seq, data: data.slice(), headers: opts?.headers ? { ...opts.headers } : undefined, msgId: id, at: now })
    if (id !== undefined) s.ids.set(id, { seq, at: now })
    for (const f of s.feeds) f()
    return { seq, duplicate: false }
  }

  async streamState(name: string): Promise<StreamState> {
    const s = this.stream(name)
    return { firstSeq: s.firstSeq, lastSeq: s.lastSeq, messages: s.msgs.length }
  }

  async orderedConsumer(name: string, opts: { readonly filterSubject: string; readonly startSeq?: number }) {
    const s = this.stream(name)
    let cursor = Math.max(1, opts.startSeq ?? 1)
    const matches = (m: StoredMsg) => subjectMatches(opts.filterSubject, m.subject)
    const pendingFrom = (seq: number) => s.msgs.reduce((n, m) => n + (m.seq >= seq && matches(m) ? 1 : 0), 0)
    const atCreation = pendingFrom(cursor)
    return {
      pending: async (created?: boolean) => (created === true ? atCreation : pendingFrom(cursor)),
      consume: async (): Promise<MessageFeed> => {
        const feed = new Feed<StreamMsg>()
        const pump = () => {
          for (const m of s.msgs) {
            if (m.seq < cursor || !matches(m)) continue
            cursor = m.seq + 1
            feed.push({ subject: m.subject, seq: m.seq, data: m.data, info: { pending: pendingFrom(cursor) } })
          }
        }
        s.feeds.add(pump)
        pump()
        return {
          [Symbol.asyncIterator]: () => feed[Symbol.asyncIterator](),
          close: async () => {
            s.feeds.delete(pump)
            feed.end()
          },
        }
      },
    }
  }

  /** Adds a stream (the topology table does this against NATS); one that exists is left as it is. */
  addStream(def: MemoryStreamDef): void {
    if (!this.streams.has(def.name)) this.streams.set(def.name, new MemoryStream(def))
  }

  /**
   * Creates a durable consumer (the topology table does this against NATS): from the stream's
   * first message, or from the first stored at or after `startAt`. One that exists keeps its
   * position; its ack wait follows `o`, as a consumer update does.
   */
  addDurable(stream: string, name: string, o: { readonly ackWaitMs: number; readonly filterSubject?: string; readonly startAt?: number }): void {
    const s = this.stream(stream)
    const had = s.durables.get(name)
    if (had) {
      had.ackWaitMs = o.ackWaitMs
      return
    }
    const cursor = o.startAt === undefined ? 1 : (s.msgs.find((m) => m.at >= o.startAt!)?.seq ?? s.lastSeq + 1)
    s.durables.set(name, { ackWaitMs: o.ackWaitMs, filterSubject: o.filterSubject ?? ">", cursor, inFlight: new Map() })
  }

  /** Messages of a durable consumer delivered and not acked yet (tests). */
  unacked(stream: string, name: string): number {
    return this.stream(stream).durables.get(name)?.inFlight.size ?? 0
  }

  /**
   * A durable consumer: a fetch delivers first what was delivered and not acked within the ack
   * wait (on the injected clock), then new messages in order; with nothing to deliver it waits for
   * a publish up to `expiresMs` and returns what it has then (possibly nothing).
   */
  async durableConsumer(name: string, durable: string): Promise<DurableConsumer> {
    const s = this.stream(name)
    const d = s.durables.get(durable)
    if (!d) throw new StreamNotFound({ stream: `${name} consumer ${durable}` })
    const clock = this.clock
    const take = (max: number): AckableMsg[] => {
      const now = clock.now()
      const out: AckableMsg[] = []
      const deliver = (m: StoredMsg) => {
        d.inFlight.set(m.seq, now + d.ackWaitMs)
        out.push({
          subject: m.subject, seq: m.seq, data: m.data, info: { pending: 0 }, // pending is not modelled for durables
          ack: () => void d.inFlight.delete(m.seq),
          working: () => {
            if (d.inFlight.has(m.seq)) d.inFlight.set(m.seq, clock.now() + d.ackWaitMs)
          },
        })
      }
      for (const [seq, due] of [...d.inFlight].sort((a, b) => a[0] - b[0])) {
        if (out.length >= max) break
        const m = due <= now ? s.msgs.find((x) => x.seq === seq) : undefined
        if (m) deliver(m)
      }
      for (const m of s.msgs) {
        if (out.length >= max) break
        if (m.seq < d.cursor || !subjectMatches(d.filterSubject, m.subject)) continue
        d.cursor = m.seq + 1
        deliver(m)
      }
      return out
    }
    return {
      fetch: async (o) => {
        if (o.expiresMs < 1_000) throw new RangeError(`'expires' must be at least 1000ms (as NATS says)`)
        let got = take(o.maxMessages)
        if (got.length === 0) {
          await new Promise<void>((resolve) => {
            const done = () => {
              s.feeds.delete(done)
              cancel()
              resolve()
            }
            const cancel = clock.after(o.expiresMs, done)
            s.feeds.add(done)
          })
          got = take(o.maxMessages)
        }
        return (async function* () {
          yield* got
        })()
      },
    }
  }

  /** Messages stored in all streams so far (tests see progress by it). */
  get totalSeq(): number {
    let n = 0
    for (const s of this.streams.values()) n += s.lastSeq
    return n
  }

  /** Every stored message of a stream (tests). */
  messages(name: string): ReadonlyArray<StoredMsg> {
    return this.stream(name).msgs
  }

  /** Drops messages up to `seq` from a stream, as max age / max bytes would. */
  expire(name: string, seq: number): void {
    const s = this.stream(name)
    while (s.msgs.length && s.msgs[0]!.seq <= seq) s.msgs.shift()
  }

  private stream(name: string): MemoryStream {
    const s = this.streams.get(name)
    if (!s) throw new StreamNotFound({ stream: name })
    return s
  }
}
