import { CheckpointTooLarge, CheckpointUnreadable, KvConflict, LeaseLost } from "./errors.ts"
import type { BlobRef, BlobStore, Kv } from "./nats/ports.ts"
import { checkpointCodec, packSnapshot, type PackedSnapshot } from "./snapshot-codec.ts"
import { CheckpointEnvelope } from "./wire.ts"
import type { CheckpointBody, UnpackedCheckpointBody } from "./wire/checkpoint.ts"

export { checkpointCodec } from "./snapshot-codec.ts"

/** A shard checkpoint: the stream position and every actor's state at that position. */
export interface Checkpoint {
  readonly shard: number
  /** Last stream sequence whose effects are in `actors` (and durable in the sink). */
  readonly streamSeq: number
  readonly epoch: number
  readonly owner: string
  readonly at: number
  /**
   * [actor id, packed snapshot] pairs (snapshot-codec.ts). Written as they are, under `packed`;
   * a checkpoint written before (snapshots under `actors`) is read with its snapshots packed.
   */
  readonly actors: ReadonlyArray<readonly [string, PackedSnapshot]>
  /**
   * [actor id, processing time] of every actor with a pending timer (absence, `for`, clear,
   * escalation): the next owner wakes these at that time without activating the others.
   * Absent in checkpoints written before it existed (then rebuilt from the snapshots at restore).
   */
  readonly timers?: ReadonlyArray<readonly [string, number]> | undefined
}

/** What a checkpoint's KV entry says without its actors: position, writer and where the body is. */
export interface CheckpointHead {
  readonly shard: number
  readonly streamSeq: number
  readonly epoch: number
  readonly owner: string
  readonly at: number
  /** The body in the object store; undefined when the body is inline in the KV entry. */
  readonly object: BlobRef | undefined
}

/** The KV value of a checkpoint whose body is in the object store. */
interface Pointer extends Omit<CheckpointHead, "object"> {
  readonly object: BlobRef
}

const isPointer = (v: CheckpointBody | UnpackedCheckpointBody | Pointer): v is Pointer =>
  !("actors" in v) && !("packed" in v) && typeof (v as Partial<Pointer>).object?.name === "string"

/** The in-memory checkpoint of a body read, of either format (packed now, unpacked before). */
const ofBody = (b: CheckpointBody | UnpackedCheckpointBody): Checkpoint => {
  const { shard, streamSeq, epoch, owner, at, timers } = b
  const actors = "packed" in b ? b.packed : b.actors.map(([id, snap]) => [id, packSnapshot(snap)] as const)
  return { shard, streamSeq, epoch, owner, at, actors, ...(timers === undefined ? {} : { timers }) }
}

/** The body a checkpoint is written as: its snapshots as the bytes they are kept as, not packed again. */
const bodyOf = (cp: Checkpoint): CheckpointBody => {
  const { shard, streamSeq, epoch, owner, at, actors, timers } = cp
  return { shard, streamSeq, epoch, owner, at, packed: actors, ...(timers === undefined ? {} : { timers }) }
}

/**
 * Packs a checkpoint body. msgpackr packs into one buffer it keeps for the next pack (shared by
 * every Packr of the process), grown to about 4× the largest value packed: after a body of
 * several MB that buffer would stay in the heap of an idle node. A large body's buffer is handed
 * over with the body (the returned view holds it until the write is done) and the codec starts
 * again from a small one, as msgpackr itself does.
 */
const packBody = (body: CheckpointBody): Uint8Array => {
  const bytes = checkpointCodec.pack(body)
  if (bytes.length > keepCodecBufferBelow) checkpointCodec.useBuffer(Buffer.allocUnsafeSlow(8192))
  return bytes
}
/** Bodies up to this size leave the codec's buffer as it is (reused by the next pack). */
const keepCodecBufferBelow = 256 * 1024

const key = (shard: number) => `shard.${shard}`
const objectPrefix = (shard: number) => `shard.${shard}.`

/** Checkpoints options. */
export interface CheckpointsOptions {
  /** Where bodies over `inlineBytes` go; without it such a checkpoint fails with CheckpointTooLarge. */
  readonly objects?: BlobStore | undefined
  /** Largest body kept inline in the KV entry. */
  readonly inlineBytes?: number | undefined
}

/** nats-server's default max payload is 1 MiB; keep headroom for headers. */
export const checkpointDefaults = { inlineBytes: 1_000_000 } as const

/**
 * Fenced checkpoints in `akis_snapshots`. A new owner first *claims* the shard's checkpoint
 * (CAS rewrite with its epoch); from then on every write is a CAS on the revision it last wrote,
 * so a deposed owner's late write fails, and a deposed owner that wrote before the claim only
 * made the claim re-read a newer, still self-consistent checkpoint.
 *
 * The KV entry `shard.<n>` is the only CAS point. A body larger than one KV value goes to the
 * object store first, under a name used once, and the KV entry becomes a pointer to it (with
 * position, writer, size and digest): the checkpoint exists from the moment that pointer is
 * written, so a deposed writer's body never becomes visible. Bodies that no pointer names are
 * removed: the previous one after each successful write, a refused writer's own at once, and
 * orphans (a writer that died between put and CAS) when the shard is next claimed.
 */
export class Checkpoints {
  /** Bodies spilled to / removed from the object store, and failed (best-effort) removals. */
  readonly stats = { spilled: 0, inline: 0, removed: 0, orphansRemoved: 0, removeFailures: 0 }
  private readonly sizes = new Map<number, number>()

  /** Size in bytes of the last checkpoint this process wrote for `shard` (0 if none). */
  lastBytes(shard: number): number {
    return this.sizes.get(shard) ?? 0
  }
  private readonly objects: BlobStore | undefined
  private readonly inlineBytes: number
  /** Per shard, the revision this instance last read or wrote and the body object it names. */
  private readonly known = new Map<number, { readonly revision: number; readonly object: string | undefined }>()

  constructor(private readonly kv: Kv, options: CheckpointsOptions = {}) {
    this.objects = options.objects
    this.inlineBytes = options.inlineBytes ?? checkpointDefaults.inlineBytes
  }

  /** Reads the checkpoint of a shard (undefined if it never had one) with its revision, following a pointer to the object store. */
  async read(shard: number): Promise<{ checkpoint: Checkpoint | undefined; revision: number }> {
    const { checkpoint, revision } = await this.load(shard)
    return { checkpoint, revision }
  }

  /** The KV entry alone (no body fetched): position and writer of the shard's checkpoint. */
  async head(shard: number): Promise<{ head: CheckpointHead | undefined; revision: number }> {
    const e = await this.kv.get(key(shard))
    if (!e) return { head: undefined, revision: 0 }
    if (e.operation !== "PUT") return { head: undefined, revision: e.revision }
    const v = CheckpointEnvelope.decode(checkpointCodec.unpack(e.value))
    const { shard: s, streamSeq, epoch, owner, at } = v
    return { head: { shard: s, streamSeq, epoch, owner, at, object: isPointer(v) ? v.object : undefined }, revision: e.revision }
  }

  /**
   * Claims the shard for `epoch`/`owner`: returns the checkpoint to restore and the revision to
   * write against. Retries when a deposed owner writes in between. A body in the object store
   * stays where it is (only the pointer is rewritten); then bodies of this shard that no pointer
   * can name any more are removed.
   */
  async claim(shard: number, epoch: number, owner: string, now: number): Promise<{ checkpoint: Checkpoint; revision: number }> {
    // Bodies completed before this point and not named by the pointer we claim are dead once the
    // claim succeeds; later ones may belong to an owner after us and are left alone.
    const floor = await this.objects?.lastRevision()
    for (let attempt = 0; ; attempt++) {
      const { checkpoint, revision, pointer } = await this.load(shard)
      const claimed: Checkpoint = checkpoint
        ? { ...checkpoint, epoch, owner, at: now }
        : { shard, streamSeq: 0, epoch, owner, at: now, actors: [] }
      try {
        let rev: number
        if (pointer) {
          rev = await this.cas(shard, checkpointCodec.pack({ ...pointer, epoch, owner, at: now } satisfies Pointer), revision)
          this.known.set(shard, { revision: rev, object: pointer.object.name })
        } else rev = await this.write(claimed, revision)
        if (floor !== undefined) await this.removeOrphans(shard, floor)
        return { checkpoint: claimed, revision: rev }
      } catch (e) {
        if (!(e instanceof LeaseLost) || attempt >= 5) throw e
      }
    }
  }

  /**
   * Writes a checkpoint with CAS on `expectedRevision`; LeaseLost if another owner wrote since.
   * A body over the inline limit is put in the object store first and the KV entry points to it.
   */
  async write(cp: Checkpoint, expectedRevision: number): Promise<number> {
    const body = packBody(bodyOf(cp))
    let value = body
    let object: BlobRef | undefined
    if (body.length > this.inlineBytes) {
      if (!this.objects) throw new CheckpointTooLarge({ shard: cp.shard, bytes: body.length })
      object = await this.objects.put(`${objectPrefix(cp.shard)}${cp.epoch}.${cp.streamSeq}.`, body)
      const { shard, streamSeq, epoch, owner, at } = cp
      value = checkpointCodec.pack({ shard, streamSeq, epoch, owner, at, object } satisfies Pointer)
    }
    let revision: number
    try {
      revision = await this.cas(cp.shard, value, expectedRevision)
    } catch (e) {
      // Refused: this body can never become the checkpoint. Any other failure leaves the outcome
      // unknown (the update may have landed), so the body stays; the next claim removes it if unnamed.
      if (e instanceof LeaseLost && object) await this.remove(object.name)
      throw e
    }
    if (object) this.stats.spilled++
    else this.stats.inline++
    const before = this.known.get(cp.shard)
    this.known.set(cp.shard, { revision, object: object?.name })
    this.sizes.set(cp.shard, body.length)
    if (before?.revision === expectedRevision && before.object !== undefined && before.object !== object?.name) await this.remove(before.object)
    return revision
  }

  /** The KV compare-and-set: create when `expectedRevision` is 0, else update; LeaseLost when it does not match. */
  private async cas(shard: number, value: Uint8Array, expectedRevision: number): Promise<number> {
    try {
      return expectedRevision === 0
        ? await this.kv.create(key(shard), value)
        : await this.kv.update(key(shard), value, expectedRevision)
    } catch (e) {
      if (e instanceof KvConflict) throw new LeaseLost({ shard, cause: e })
      throw e
    }
  }

  /** Reads the entry and, for a pointer, its body; re-reads when the body was replaced while being fetched. */
  private async load(shard: number): Promise<{ checkpoint: Checkpoint | undefined; revision: number; pointer?: Pointer }> {
    for (;;) {
      const e = await this.kv.get(key(shard))
      if (!e) return { checkpoint: undefined, revision: 0 }
      if (e.operation !== "PUT") return { checkpoint: undefined, revision: e.revision }
      const v = CheckpointEnvelope.decode(checkpointCodec.unpack(e.value))
      if (!isPointer(v)) {
        this.known.set(shard, { revision: e.revision, object: undefined })
        return { checkpoint: ofBody(v), revision: e.revision }
      }
      const name = v.object.name
      if (!this.objects) throw new CheckpointUnreadable({ shard, object: name, reason: "is in the object store, and none was given" })
      const body = await this.objects.get(name)
      if (!body) {
        // A newer checkpoint replaced it (its writer deletes the previous body): read that one.
        const now = await this.kv.get(key(shard))
        if (now && now.revision !== e.revision) continue
        throw new CheckpointUnreadable({ shard, object: name, reason: "is missing" })
      }
      if (body.digest !== v.object.digest) throw new CheckpointUnreadable({ shard, object: name, reason: `has digest ${body.digest}, expected ${v.object.digest}` })
      const cp = ofBody(CheckpointEnvelope.decodeBody(checkpointCodec.unpack(body.bytes)))
      this.known.set(shard, { revision: e.revision, object: name })
      // the pointer is newer than the body where a claim rewrote it (epoch, owner, at)
      return { checkpoint: { ...cp, shard: v.shard, streamSeq: v.streamSeq, epoch: v.epoch, owner: v.owner, at: v.at }, revision: e.revision, pointer: v }
    }
  }

  /** Removes this shard's bodies completed up to `floor` that the current pointer does not name. Best effort. */
  private async removeOrphans(shard: number, floor: number): Promise<void> {
    const objects = this.objects!
    const keep = this.known.get(shard)?.object
    try {
      for (const name of await objects.list(objectPrefix(shard))) {
        if (name === keep) continue
        const rev = await objects.revision(name)
        if (rev === undefined || rev > floor) continue
        if (await this.remove(name)) this.stats.orphansRemoved++
      }
    } catch {
      this.stats.removeFailures++ // left for the next claim
    }
  }

  private async remove(name: string): Promise<boolean> {
    try {
      await this.objects!.delete(name)
      this.stats.removed++
      return true
    } catch {
      this.stats.removeFailures++ // an unnamed body: the next claim of the shard removes it
      return false
    }
  }
}
