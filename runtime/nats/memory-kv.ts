import { KvConflict } from "../errors.ts"
import { Feed, subjectMatches } from "./memory-queue.ts"
import type { HistoryKv, KvEntry, KvWatch, KvWatchEntry } from "./ports.ts"

const encoder = new TextEncoder()
const bytes = (v: Uint8Array | string) => (typeof v === "string" ? encoder.encode(v) : v.slice())

/**
 * The in-memory twin of a NATS KV bucket, with history 1 by default (akis's coordination buckets;
 * the rules bucket keeps 64: `new MemoryKv({ history: 64 })`): one
 * revision counter per bucket, the latest entry per key (delete markers included), CAS on
 * create/update/delete failing with {@link KvConflict}, and watches that deliver the latest entry
 * of every key (counting down `delta` to 0) and then every write (`delta` 0: nothing is ever
 * pending in memory). Values are copied in, so a caller cannot change what is stored.
 */
export class MemoryKv implements HistoryKv {
  private seq = 0
  private readonly latest = new Map<string, KvEntry>()
  private readonly watchers = new Set<{ readonly feed: Feed<KvWatchEntry>; readonly key: string }>()
  /** Revisions kept per key, oldest first (only when history > 1). */
  private readonly past = new Map<string, KvEntry[]>()
  private readonly depth: number

  constructor(opts: { readonly history?: number } = {}) {
    this.depth = opts.history ?? 1
  }

  async get(key: string): Promise<KvEntry | null> {
    return this.latest.get(key) ?? null
  }

  async put(key: string, value: Uint8Array | string): Promise<number> {
    return this.write(key, "PUT", bytes(value))
  }

  async create(key: string, value: Uint8Array | string): Promise<number> {
    if (this.latest.get(key)?.operation === "PUT") throw new KvConflict({ key })
    return this.write(key, "PUT", bytes(value))
  }

  async update(key: string, value: Uint8Array | string, revision: number): Promise<number> {
    if ((this.latest.get(key)?.revision ?? 0) !== revision) throw new KvConflict({ key })
    return this.write(key, "PUT", bytes(value))
  }

  async delete(key: string, opts?: { readonly previousSeq?: number }): Promise<void> {
    if (opts?.previousSeq !== undefined && (this.latest.get(key)?.revision ?? 0) !== opts.previousSeq) throw new KvConflict({ key })
    this.write(key, "DEL", new Uint8Array(0))
  }

  async watch(opts?: { readonly fromRevision?: number; readonly key?: string }): Promise<KvWatch> {
    const feed = new Feed<KvWatchEntry>()
    const from = opts?.fromRevision ?? 0
    const key = opts?.key ?? ">"
    const initial = [...this.latest.values()].filter((e) => e.revision >= from && subjectMatches(key, e.key)).sort((a, b) => a.revision - b.revision)
    initial.forEach((e, i) => feed.push({ ...e, delta: initial.length - 1 - i }))
    const w = { feed, key }
    this.watchers.add(w)
    return {
      [Symbol.asyncIterator]: () => feed[Symbol.asyncIterator](),
      stop: () => {
        this.watchers.delete(w)
        feed.end()
      },
    }
  }

  async keys(filter = ">"): Promise<string[]> {
    return [...this.latest.values()].filter((e) => e.operation === "PUT" && subjectMatches(filter, e.key)).map((e) => e.key)
  }

  async history(key: string): Promise<KvEntry[]> {
    if (this.depth > 1) return [...(this.past.get(key) ?? [])]
    const e = this.latest.get(key)
    return e ? [e] : []
  }

  /** The bucket's last revision (tests). */
  get revision(): number {
    return this.seq
  }

  private write(key: string, operation: KvEntry["operation"], value: Uint8Array): number {
    const e: KvEntry = { key, revision: ++this.seq, operation, value }
    this.latest.set(key, e)
    if (this.depth > 1) this.past.set(key, [...(this.past.get(key) ?? []), e].slice(-this.depth))
    for (const w of this.watchers) if (subjectMatches(w.key, key)) w.feed.push({ ...e, delta: 0 })
    return e.revision
  }
}
