import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream"
import { Bucket, type KV } from "@nats-io/kv"
import { KvConflict } from "../errors.ts"
import type { HistoryKv, KvEntry, KvWatch, KvWatchEntry } from "./ports.ts"

/** True when a JetStream/KV call failed because an expected last sequence (CAS) did not match. */
const isWrongLastSequence = (e: unknown): boolean =>
  e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamWrongLastSequence

/** Runs a compare-and-set, turning NATS's "wrong last sequence" into {@link KvConflict}: the one place that knows it. */
const cas = async <T>(key: string, op: () => Promise<T>): Promise<T> => {
  try {
    return await op()
  } catch (e) {
    if (isWrongLastSequence(e)) throw new KvConflict({ key, cause: e })
    throw e
  }
}

/**
 * The {@link Kv} port on a NATS KV bucket. Entries are the library's own objects (no copy);
 * CAS failures become {@link KvConflict} here and nowhere else. A create on a key that holds a
 * value fails with "wrong last sequence" on nats-server 2.9+ (the library retries a create on a
 * deleted key itself), so it is a KvConflict too.
 */
export const natsKv = (kv: KV): HistoryKv => ({
  get: (key) => kv.get(key),
  put: (key, value) => kv.put(key, value),
  create: (key, value) => cas(key, () => kv.create(key, value)),
  update: (key, value, revision) => cas(key, () => kv.update(key, value, revision)),
  delete: (key, opts) => cas(key, () => kv.delete(key, opts?.previousSeq !== undefined ? { previousSeq: opts.previousSeq } : undefined)),
  async watch(opts) {
    // The library's watch entries carry `delta` (messages still pending): the port's KvWatchEntry as is.
    const it = await kv.watch({
      ...(opts?.fromRevision !== undefined ? { resumeFromRevision: opts.fromRevision } : {}),
      ...(opts?.key !== undefined ? { key: opts.key } : {}),
    })
    const w: KvWatch = { [Symbol.asyncIterator]: () => it[Symbol.asyncIterator]() as AsyncIterator<KvWatchEntry>, stop: () => it.stop() }
    return w
  },
  async history(key) {
    const out: KvEntry[] = []
    for await (const e of await kv.history({ key })) out.push(e)
    return out
  },
  async keys(filter) {
    const listed = await libraryKeys(kv, filter)
    if (!(kv instanceof Bucket) || (filter !== undefined && filter !== ">")) return listed
    // nats.js lists keys with a consumer of last values, and on nats-server 2.9 that consumer can
    // skip a key rewritten while it lists (seen in CI: 3 of 200 keys missing while 20 were
    // rewritten; a member heartbeating during `ops cluster` would go missing). The stream's
    // subject list is one answer of the server: a subject there and not listed is a deleted key
    // (its marker) or a skipped one, which reading it tells apart.
    const prefix = kv.fullKeyName("") // "$KV.<bucket>."
    const info = await kv.jsm.streams.info(kv.stream, { subjects_filter: `${prefix}>` })
    const have = new Set(listed)
    const unlisted = Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length)).filter((k) => !have.has(k))
    const entries = await Promise.all(unlisted.map((k) => kv.get(k).catch(() => null)))
    for (const e of entries) if (e?.operation === "PUT") listed.push(e.key)
    return listed
  },
})

/**
 * nats.js's key listing, each key once: its consumer also delivers writes made during the
 * listing, so a key written meanwhile (a member's heartbeat) came twice and `ops cluster` showed
 * a node twice.
 */
const libraryKeys = async (kv: KV, filter?: string): Promise<string[]> => {
  const out = new Set<string>()
  for await (const k of await kv.keys(filter)) out.add(k)
  return [...out]
}
