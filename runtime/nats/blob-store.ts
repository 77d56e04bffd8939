import { JetStreamApiError, type JetStreamManager, type MsgRequest } from "@nats-io/jetstream"
import { Base64UrlPaddedCodec, Objm, setSha256Backend, StorageType, type ObjectStore } from "@nats-io/obj"
import { nuid } from "@nats-io/transport-node"

/** Where a stored blob is and what it holds: enough to find it again and to check it. */
export interface BlobRef {
  readonly name: string
  readonly size: number
  /** `SHA-256=<base64url>` as the object store writes it. */
  readonly digest: string
}

/**
 * Values too large for one KV entry, kept in a JetStream object store (the layout of ADR-20, so
 * `nats obj ls/get` shows them). Every put gets a fresh name, so a put never replaces a blob that
 * something may still point at; a delete leaves no tombstone behind, so these unique names do not
 * pile up in the stream.
 */
export interface BlobStore {
  /** Stores `bytes` under a new name `<prefix><unique id>`. */
  put(prefix: string, bytes: Uint8Array): Promise<BlobRef>
  /** The bytes of a blob and their digest (computed from the bytes read), or undefined when it is gone (or was deleted while being read). */
  get(name: string): Promise<{ readonly bytes: Uint8Array; readonly digest: string } | undefined>
  /** Removes a blob (no-op when absent). */
  delete(name: string): Promise<void>
  /** Names of the stored blobs that start with `prefix`. */
  list(prefix: string): Promise<string[]>
  /** The stream sequence that completed a blob (its metadata write), undefined when absent. */
  revision(name: string): Promise<number | undefined>
  /** The store's last stream sequence: a blob completed after this call has a higher {@link revision}. */
  lastRevision(): Promise<number>
}

/** Store options: replicas as the KV buckets have them (R3 in a NATS cluster). */
export interface BlobStoreOptions {
  readonly replicas: number
  /** Bytes per chunk message; nats-server's max payload (1 MiB by default) caps it. */
  readonly chunkBytes?: number
}

/** JetStream API error 10058: "stream name already in use with a different configuration". */
const streamNameInUse = 10058
const defaults = { chunkBytes: 512 * 1024 }

/** SHA-256 of `bytes` in the object store's digest notation (`SHA-256=` + padded base64url). */
export const blobDigest = (bytes: Uint8Array): string =>
  `SHA-256=${new Bun.CryptoHasher("sha256").update(bytes).digest("base64").replaceAll("+", "-").replaceAll("/", "_")}`

/**
 * Opens (creating if absent, never reconfiguring) the object store `name` as a {@link BlobStore}.
 * Chunks are read by direct get, from the leader when a replica lacks one, so a blob is readable
 * as soon as its put returned, also in R3.
 */
export const openBlobStore = async (objm: Objm, jsm: JetStreamManager, name: string, o: BlobStoreOptions): Promise<BlobStore> => {
  // The pure-JS hash is the library's browser-safe default; Bun has node:crypto (process-wide switch).
  setSha256Backend("native")
  const os: ObjectStore = await objm.create(name, { replicas: o.replicas, storage: StorageType.File }).catch((e) =>
    // another node created it at the same moment with other replicas: use it as it is
    e instanceof JetStreamApiError && e.code === streamNameInUse ? objm.open(name) : Promise.reject(e))
  const stream = `OBJ_${name}`
  const metaSubject = (n: string) => `$O.${name}.M.${Base64UrlPaddedCodec.encode(n)}`
  const chunkSubject = (id: string) => `$O.${name}.C.${id}`
  const chunkBytes = o.chunkBytes ?? defaults.chunkBytes

  return {
    async put(prefix, bytes) {
      const info = await os.putBlob({ name: `${prefix}${nuid.next()}`, options: { max_chunk_size: chunkBytes } }, bytes)
      return { name: info.name, size: info.size, digest: info.digest }
    },

    async get(n) {
      const info = await os.info(n)
      if (!info || info.deleted) return undefined
      const bytes = new Uint8Array(info.size)
      let off = 0
      let seq = 0
      while (off < info.size) {
        const next = { next_by_subj: chunkSubject(info.nuid), seq }
        // Direct get returns raw bytes (3-4× faster than the leader's JSON/base64 answer for
        // megabytes), but in R3 a lagging replica may answer; it can only lack a chunk, never
        // hold a wrong one (a blob's chunks are the only messages on its subject), so ask the
        // leader when it has none. STREAM.MSG.GET takes next_by_subj since nats-server 2.9;
        // the client's type lists only seq / last_by_subj.
        const m = await jsm.direct.getMessage(stream, next) ??
          await jsm.streams.getMessage(stream, next as unknown as MsgRequest)
        if (!m || off + m.data.length > info.size) return undefined // purged under us
        bytes.set(m.data, off)
        off += m.data.length
        seq = m.seq + 1
      }
      return { bytes, digest: blobDigest(bytes) }
    },

    async delete(n) {
      const info = await os.info(n)
      if (!info) return
      // meta first: from then on the blob is absent for readers, then its chunks go
      await jsm.streams.purge(stream, { filter: metaSubject(n) })
      await jsm.streams.purge(stream, { filter: chunkSubject(info.nuid) })
    },

    async list(prefix) {
      const si = await jsm.streams.info(stream, { subjects_filter: `$O.${name}.M.>` })
      return Object.keys(si.state.subjects ?? {})
        .map((s) => Base64UrlPaddedCodec.decode(s.slice(`$O.${name}.M.`.length)) as string)
        .filter((n) => n.startsWith(prefix))
    },

    async revision(n) {
      const info = await os.info(n)
      return info && !info.deleted ? info.revision : undefined
    },

    async lastRevision() {
      return (await jsm.streams.info(stream)).state.last_seq
    },
  }
}
