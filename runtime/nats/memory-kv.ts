import { KvConflict } from "../errors.ts"
import { Feed } from "./memory-queue.ts"
import type { HistoryKv, KvEntry, KvWatch } from "./ports.ts"

const encoder = new TextEncoder()
const bytes = (v: Uint8Array | string) => (typeof v === "string" ? encoder.encode(v) : v.slice())

/**
 * The in-memory twin of a NATS KV bucket, with history 1 by default (akis's coordination buckets;
 * the rules bucket keeps 64: `new MemoryKv({ history: 64 })`): one
 * revision counter per bucket, the latest entry per key (delete markers included), CAS on
 * create/update/delete failing with {@link KvConflict}, and watches that deliver the latest entry
 * of every key and then every write. Values are copied in, so a caller cannot change what is stored.
 */
export class MemoryKv implements HistoryKv {
  private seq = 0
  private readonly latest = new Map<string, KvEntry>()
  private readonly watchers = new Map<Feed<KvEntry>, string | undefined>()
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
    const feed = new Feed<KvEntry>()
    const from = opts?.fromRevision ?? 0
    const key = opts?.key
    for (const e of [...this.latest.values()].sort((a, b) => a.revision - b.revision)) if (e.revision >= from && (key === undefined || e.key === key)) feed.push(e)
    this.watchers.set(feed, key)
    return {
      [Symbol.asyncIterator]: () => feed[Symbol.asyncIterator](),
      stop: () => {
        this.watchers.delete(feed)
        feed.end()
      },
    }
  }

  async keys(): Promise<string[]> {
    return [...this.latest.values()].filter((e) => e.operation === "PUT").map((e) => e.key)
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
    for (const [w, only] of this.watchers) if (only === undefined || only === key) w.push(e)
    return e.revision
  }
}
