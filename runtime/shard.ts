/**
 * The one shard function of akis: `shard = fnv1a32(deviceId) mod P`. It is the same hash as
 * nats-server's `{{partition(P,n)}}` subject mapping (FNV-1a 32 over the token's bytes), so a
 * server-side mapping splits subjects exactly as akis does. Every component uses this function.
 */
const encoder = new TextEncoder()

/** FNV-1a 32-bit hash of the UTF-8 bytes of `s`. ASCII strings take a fast path with no allocation. */
export const fnv1a32 = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) return fnv1a32Bytes(encoder.encode(s))
    h ^= c
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** FNV-1a 32-bit hash of raw bytes. */
export const fnv1a32Bytes = (bytes: Uint8Array): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The shard (0..partitions-1) that owns `id`. */
export const shardOf = (id: string, partitions: number): number => fnv1a32(id) % partitions

/** Subject of the telemetry batches of one shard. */
export const telemetrySubject = (shard: number): string => `akis.tlm.${shard}`

/** Subject on which the owner of a shard answers requests for its actors. */
export const rpcSubject = (shard: number): string => `akis.rpc.${shard}`
