import type { ReadingBatch } from "./batch.ts"

/** Device ids are subject-safe tokens (the gateway admits nothing else): letters, digits, `_`, `-`. */
const deviceIdRe = /^[A-Za-z0-9_-]{1,64}$/
const maxSeq = Number.MAX_SAFE_INTEGER
/** Event times a reading may carry: 1970 to 2100 (what ClickHouse's DateTime stores). */
const maxTs = 4_102_444_800_000

/**
 * Why a decoded batch cannot be processed, or undefined when every reading is well formed. The
 * gateway only publishes batches that pass; anything else on `akis.tlm.*` (another publisher, a bug,
 * a hostile client) is a poison message and goes to the dead-letter stream instead of into actors.
 */
export const batchProblem = (b: ReadingBatch): string | undefined => {
  if (!Number.isInteger(b.width) || b.width < 0) return `width ${b.width} is not a field count`
  for (let i = 0; i < b.ids.length; i++) {
    const id = b.ids[i]
    if (typeof id !== "string" || !deviceIdRe.test(id)) return `reading ${i}: device id ${JSON.stringify(id)?.slice(0, 80)} is not a device id`
    const seq = b.seqs[i]!
    if (!Number.isInteger(seq) || seq < 0 || seq > maxSeq) return `reading ${i} (${id}): seq ${seq} is not an integer in 0..2^53-1`
    const ts = b.ts[i]!
    if (!Number.isFinite(ts) || ts < 0 || ts >= maxTs) return `reading ${i} (${id}): time ${ts} is outside 1970..2100`
  }
  return undefined
}
