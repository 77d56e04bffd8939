import type { Clock } from "../clock.ts"
import { StreamNotFound } from "../errors.ts"
import { Feed, subjectMatches } from "./memory-queue.ts"
import type { JetStream, MessageFeed, PubAck, PublishOptions, StreamMsg, StreamState } from "./ports.ts"

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
}

class MemoryStream {
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
    s.msgs.push({ subject, seq, data: data.slice(), headers: opts?.headers ? { ...opts.headers } : undefined, msgId: id })
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
    return {
      pending: async () => pendingFrom(cursor),
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
