import { Schema } from "effect"
import type { BlobRef } from "../nats/blob-store.ts"
import { checkedBy, wireMessage } from "./codec.ts"

// The checkpoint envelope in KV `akis_snapshots` (key `shard.<n>`, msgpack, runtime/checkpoints.ts):
// either the whole checkpoint inline, or a pointer to its body in the object store. The actor
// snapshots inside are the actor kind's business (restored by it); here only their framing is
// checked, with one loop instead of a schema per actor (a checkpoint holds up to 10^5 actors and
// is read when a shard is claimed, which failover time depends on).
//
// A body holds `packed`: [actor id, packed snapshot bytes] pairs (runtime/snapshot-codec.ts), the
// bytes passive actors are kept as. Bodies written before that hold `actors`: [actor id, snapshot]
// pairs, unpacked with the body; they are still read. A reader from before `packed` finds no
// `actors` in a new body and fails at once with a WireDecodeError, instead of handing bytes to
// an actor kind as a snapshot.

/** A checker for arrays of [actor id, value] pairs whose value passes `isValue` (one loop, no schema per pair). */
const isPairsOf = <V>(isValue: (v: unknown) => v is V) => (u: unknown): u is ReadonlyArray<readonly [string, V]> => {
  if (!Array.isArray(u)) return false
  for (let i = 0; i < u.length; i++) {
    const p = u[i]
    if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== "string" || !isValue(p[1])) return false
  }
  return true
}
const isActorPairs = isPairsOf((_v: unknown): _v is unknown => true)
const isPackedPairs = isPairsOf((v: unknown): v is Uint8Array => v instanceof Uint8Array)
const isTimerPairs = isPairsOf((v: unknown): v is number => typeof v === "number")

const head = {
  shard: Schema.Number,
  streamSeq: Schema.Number,
  epoch: Schema.Number,
  owner: Schema.String,
  at: Schema.Number,
}
const timers = Schema.optionalKey(Schema.UndefinedOr(checkedBy(isTimerPairs, "an array of [actor id, time] pairs")))
const InlineSchema = Schema.Struct({
  ...head,
  packed: checkedBy(isPackedPairs, "an array of [actor id, packed snapshot bytes] pairs"),
  timers,
})
const UnpackedSchema = Schema.Struct({
  ...head,
  actors: checkedBy(isActorPairs, "an array of [actor id, snapshot] pairs"),
  timers,
})
const PointerSchema = Schema.Struct({
  ...head,
  object: Schema.Struct({ name: Schema.String, size: Schema.Number, digest: Schema.String }),
})
const inline = wireMessage("akis_snapshots checkpoint", InlineSchema)
const unpacked = wireMessage("akis_snapshots checkpoint", UnpackedSchema)
const pointer = wireMessage("akis_snapshots checkpoint pointer", PointerSchema)

/** A checkpoint body as written now: packed snapshots. */
export type CheckpointBody = typeof InlineSchema.Type

/** A checkpoint body as written before snapshots were kept packed: [actor id, snapshot] pairs. */
export type UnpackedCheckpointBody = typeof UnpackedSchema.Type

/** A checkpoint entry whose body is in the object store. */
export interface CheckpointPointer {
  readonly shard: number
  readonly streamSeq: number
  readonly epoch: number
  readonly owner: string
  readonly at: number
  readonly object: BlobRef
}

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const decodeBody = (u: unknown): CheckpointBody | UnpackedCheckpointBody =>
  isObject(u) && "actors" in u && !("packed" in u) ? unpacked.decode(u) : inline.decode(u)

/**
 * Checks an unpacked checkpoint entry or body: a checkpoint when it holds `packed` (or, written
 * before, `actors`), else a pointer. Throws WireDecodeError naming the field.
 */
export const CheckpointEnvelope = {
  name: "akis_snapshots checkpoint",
  decode: (u: unknown): CheckpointBody | UnpackedCheckpointBody | CheckpointPointer =>
    isObject(u) && !("actors" in u) && !("packed" in u) && "object" in u ? pointer.decode(u) : decodeBody(u),
  /** A body read from the object store: always a whole checkpoint. */
  decodeBody,
}
