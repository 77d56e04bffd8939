import type { Kv, KvEntry } from "../../runtime/nats/ports.ts"
import { type Clock, systemClock } from "../../runtime/clock.ts"
import { randomBytes } from "node:crypto"
import {
  AlertNoteMessage, AuditRecordMessage, isWireDecodeError, TokenRecordMessage, type WireDecodeError, type WireMessage,
} from "../../runtime/wire.ts"
import type { Role, TokenRecord } from "./auth.ts"

/**
 * The API's own state: tokens, the audit log and alert notes (acknowledgements, comments). Each
 * is an interface with a KV implementation (buckets akis_tokens and akis_audit of the topology
 * table, runtime/nats/topology.ts) and an in-memory one for in-process tests.
 */

/** Tokens, cached in memory on every api node (a KV watch keeps the cache current), so checking one costs no round trip. */
export interface TokenStore {
  get(id: string): TokenRecord | undefined
  list(): TokenRecord[]
  put(record: TokenRecord): Promise<void>
  close(): Promise<void>
}

/** Who did what, when. `action` is e.g. `rules.apply`, `rules.rollback`, `alert.ack`, `alert.comment`, `token.create`, `token.revoke`. */
export interface AuditRecord {
  readonly at: number
  /** Token name (or `cli:<user>` for the ops CLI). */
  readonly actor: string
  readonly role: Role | "cli"
  readonly action: string
  readonly target: string
  readonly detail?: Record<string, unknown>
}

/** An operator's acknowledgement or comment on an alert. */
export interface AlertNote {
  readonly alertId: string
  readonly at: number
  readonly by: string
  readonly kind: "ack" | "comment"
  readonly text: string
}

/** Audit records and alert notes. */
export interface AuditLog {
  append(r: AuditRecord): Promise<void>
  /** Newest first, in [from, to], optionally one action. */
  query(q: { from: number; to: number; action?: string | undefined; limit: number }): Promise<AuditRecord[]>
  addNote(n: AlertNote): Promise<void>
  /** Notes of one alert, oldest first. */
  notes(alertId: string): Promise<AlertNote[]>
  /** Alert ids (of those given) that have an acknowledgement. */
  acknowledged(alertIds: ReadonlyArray<string>): Promise<Set<string>>
}

/** Hears why a stored record was left out (it is not what its schema says). */
type Malformed = (e: WireDecodeError) => void
const pad = (ms: number) => String(Math.floor(ms)).padStart(13, "0")
const rand = () => randomBytes(4).toString("hex")
/** KV keys allow [-/_=.a-zA-Z0-9]: alert ids (with ':') are hex-encoded. */
const hexId = (alertId: string) => Buffer.from(alertId, "utf8").toString("hex")

/** Tokens in KV `akis_tokens` (`t.<id>`), loaded at start and followed with a watch. */
export const kvTokenStore = async (kv: Kv, onMalformed?: Malformed, clock: Clock = systemClock): Promise<TokenStore> => {
  const cache = new Map<string, TokenRecord>()
  const take = (value: Uint8Array) => {
    try {
      const r = TokenRecordMessage.fromJson(value)
      cache.set(r.id, r)
    } catch (e) {
      // not a token record: ignored (an operator wrote something else into the bucket)
      if (!isWireDecodeError(e)) throw e
      onMalformed?.(e)
    }
  }
  const watch = await kv.watch({ key: "t.>" })
  let ready = () => {}
  const loaded = new Promise<void>((r) => (ready = r))
  void (async () => {
    // The watch delivers every current value first (delta counts down to 0), then updates.
    for await (const e of watch) {
      if (e.operation === "PUT") take(e.value)
      else cache.delete(e.key.slice(2))
      if (e.delta === 0) ready()
    }
  })()
  // No token yet: the watch delivers nothing until one is written.
  if ((await kv.keys("t.>")).length === 0) ready()
  await Promise.race([loaded, clock.sleep(5_000)])
  return {
    get: (id) => cache.get(id),
    list: () => [...cache.values()].sort((a, b) => a.createdAt - b.createdAt),
    put: async (r) => {
      await kv.put(`t.${r.id}`, TokenRecordMessage.toJson(r))
      cache.set(r.id, r) // visible at once on this node; the watch brings it to the others
    },
    close: async () => watch.stop(),
  }
}

/** Tokens in memory (tests). */
export const memoryTokenStore = (initial: ReadonlyArray<TokenRecord> = []): TokenStore => {
  const m = new Map(initial.map((r) => [r.id, r]))
  return { get: (id) => m.get(id), list: () => [...m.values()], put: async (r) => void m.set(r.id, r), close: async () => {} }
}

/** Audit log and notes in KV `akis_audit`. */
export const kvAuditLog = (kv: Kv, onMalformed?: Malformed): AuditLog => {
  /** Values that decode as `m`; others are left out (and reported). */
  const decoded = <T>(m: WireMessage<T>, entries: ReadonlyArray<KvEntry | null>): T[] => {
    const out: T[] = []
    for (const e of entries) {
      if (e?.operation !== "PUT") continue
      try {
        out.push(m.fromJson(e.value))
      } catch (err) {
        if (!isWireDecodeError(err)) throw err
        onMalformed?.(err)
      }
    }
    return out
  }
  const values = async <T>(m: WireMessage<T>, filter: string, keep: (key: string) => boolean, limit: number, newestFirst: boolean): Promise<T[]> => {
    const keys: string[] = []
    for (const k of await kv.keys(filter)) if (keep(k)) keys.push(k)
    keys.sort()
    if (newestFirst) keys.reverse()
    return decoded(m, await Promise.all(keys.slice(0, limit).map((k) => kv.get(k))))
  }
  return {
    append: async (r) => void (await kv.put(`log.${pad(r.at)}.${rand()}`, AuditRecordMessage.toBytes(r))),
    query: async (q) => {
      const rows = await values<AuditRecord>(AuditRecordMessage, "log.>", (k) => {
        const ms = Number(k.split(".")[1])
        return ms >= q.from && ms <= q.to
      }, q.action ? 100_000 : q.limit, true)
      return (q.action ? rows.filter((r) => r.action === q.action) : rows).slice(0, q.limit)
    },
    addNote: async (n) => void (await kv.put(`note.${hexId(n.alertId)}.${pad(n.at)}.${rand()}`, AlertNoteMessage.toBytes(n))),
    notes: (alertId) => values<AlertNote>(AlertNoteMessage, `note.${hexId(alertId)}.>`, () => true, 10_000, false),
    acknowledged: async (ids) => {
      const want = new Map(ids.map((id) => [hexId(id), id]))
      const out = new Set<string>()
      if (want.size === 0) return out
      const keys = await kv.keys("note.>")
      const hits = keys.filter((k) => want.has(k.split(".")[1]!))
      for (const n of decoded(AlertNoteMessage, await Promise.all(hits.map((k) => kv.get(k))))) if (n.kind === "ack") out.add(n.alertId)
      return out
    },
  }
}

/** Audit log in memory (tests). */
export const memoryAuditLog = (): AuditLog & { readonly records: AuditRecord[]; readonly allNotes: AlertNote[] } => {
  const records: AuditRecord[] = []
  const allNotes: AlertNote[] = []
  return {
    records,
    allNotes,
    append: async (r) => void records.push(r),
    query: async (q) => records.filter((r) => r.at >= q.from && r.at <= q.to && (!q.action || r.action === q.action)).reverse().slice(0, q.limit),
    addNote: async (n) => void allNotes.push(n),
    notes: async (id) => allNotes.filter((n) => n.alertId === id),
    acknowledged: async (ids) => new Set(allNotes.filter((n) => n.kind === "ack" && ids.includes(n.alertId)).map((n) => n.alertId)),
  }
}
