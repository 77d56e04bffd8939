import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream"
import type { KV } from "@nats-io/kv"
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
    // nats.js lists keys with a consumer that also delivers writes made during the listing: a key
    // written meanwhile (a member's heartbeat) came twice, and `ops cluster` showed a node twice.
    const out = new Set<string>()
    for await (const k of await kv.keys(filter)) out.add(k)
    return [...out]
  },
})
