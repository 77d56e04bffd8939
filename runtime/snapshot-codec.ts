import { Packr } from "msgpackr"

/**
 * The checkpoint codec. `moreTypes` writes typed arrays as raw bytes (actor snapshots hold
 * Float64Arrays); the default msgpackr options would not round-trip them.
 */
export const checkpointCodec = new Packr({ useRecords: false, moreTypes: true })

/** A packed actor snapshot: what a passive actor is kept as, and what a checkpoint carries per actor. */
export type PackedSnapshot = Uint8Array

/**
 * Packs an actor snapshot into bytes of its own. The codec packs into one shared buffer and
 * returns a view of it, so the view is copied: a passive actor must not keep that buffer alive.
 */
export const packSnapshot = (snapshot: unknown): PackedSnapshot => new Uint8Array(checkpointCodec.pack(snapshot))

/** The snapshot {@link packSnapshot} packed. */
export const unpackSnapshot = (packed: PackedSnapshot): unknown => checkpointCodec.unpack(packed)
