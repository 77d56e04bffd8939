import { Packr } from "msgpackr"

/**
 * The checkpoint codec. `moreTypes` writes typed arrays as raw bytes (actor snapshots hold
 * Float64Arrays); the default msgpackr options would not round-trip them.
 */
export const checkpointCodec = new Packr({ useRecords: false, moreTypes: true })

/**
 * A packed actor snapshot: the snapshot in {@link checkpointCodec}, DEFLATE-compressed (raw, level
 * 1) when it is small, else as it is behind a marker byte. What a passive actor is kept as, and
 * what a checkpoint carries per actor, as it is.
 */
export type PackedSnapshot = Uint8Array

/**
 * Deflate level 1 takes a default-pack device snapshot of one reading from 3.2 KB to 1.5 KB (the
 * rule set's layout, field names and empty windows repeat) for about 10 µs; a device with ten
 * minutes of windows (43 KB of numbers) shrinks only by 15 % for 200 µs to pack and 110 µs to
 * unpack (`ops/benchmarks/probes/snapshot-cost.ts 600`), so snapshots above `deflateBelow` bytes
 * are kept as they are.
 */
const level = 1
const deflateBelow = 8 * 1024
/**
 * First byte of a snapshot kept uncompressed. A raw DEFLATE stream starts with a block header
 * whose bits 1–2 are the block type, and 11 is reserved (RFC 1951 §3.2.3): no deflated snapshot
 * starts like this, so every snapshot packed before uncompressed ones existed still reads.
 */
const stored = 0x07

/** Packs an actor snapshot into bytes of its own (the codec's shared buffer is not kept). */
export const packSnapshot = (snapshot: unknown): PackedSnapshot => {
  const bytes = checkpointCodec.pack(snapshot) as Uint8Array<ArrayBuffer>
  if (bytes.length < deflateBelow) return Bun.deflateSync(bytes, { level })
  const out = new Uint8Array(bytes.length + 1)
  out[0] = stored
  out.set(bytes, 1)
  return out
}

/** The snapshot {@link packSnapshot} packed. */
export const unpackSnapshot = (packed: PackedSnapshot): unknown =>
  (packed[0]! & 0x06) === 0x06 ? checkpointCodec.unpack(packed.subarray(1)) : checkpointCodec.unpack(Bun.inflateSync(packed as Uint8Array<ArrayBuffer>))
