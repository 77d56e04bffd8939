import { Packr } from "msgpackr"
import { CheckpointTooLarge, LeaseLost } from "./errors.ts"
import type { KV } from "./nats/connection.ts"
import { isWrongLastSequence } from "./nats/connection.ts"

/** A shard checkpoint: the stream position and every actor's state at that position. */
export interface Checkpoint {
  readonly shard: number
  /** Last stream sequence whose effects are in `actors` (and durable in the sink). */
  readonly streamSeq: number
  readonly epoch: number
  readonly owner: string
  readonly at: number
  /** [actor id, snapshot] pairs. */
  readonly actors: ReadonlyArray<readonly [string, unknown]>
}

/**
 * The checkpoint codec. `moreTypes` writes typed arrays as raw bytes (actor snapshots hold
 * Float64Arrays); the default msgpackr options would not round-trip them.
 */
export const checkpointCodec = new Packr({ useRecords: false, moreTypes: true })
const packr = checkpointCodec
const key = (shard: number) => `shard.${shard}`
/** nats-server's default max payload is 1 MiB; keep headroom for headers. */
export const maxCheckpointBytes = 1_000_000

/**
 * Fenced checkpoints in `akis_snapshots`. A new owner first *claims* the shard's checkpoint
 * (CAS rewrite with its epoch); from then on every write is a CAS on the revision it last wrote,
 * so a deposed owner's late write fails, and a deposed owner that wrote before the claim only
 * made the claim re-read a newer, still self-consistent checkpoint.
 */
export class Checkpoints {
  constructor(private readonly kv: KV) {}

  /** Reads the checkpoint of a shard (undefined if it never had one) with its revision. */
  async read(shard: number): Promise<{ checkpoint: Checkpoint | undefined; revision: number }> {
    const e = await this.kv.get(key(shard))
    if (!e) return { checkpoint: undefined, revision: 0 }
    if (e.operation !== "PUT") return { checkpoint: undefined, revision: e.revision }
    return { checkpoint: packr.unpack(e.value) as Checkpoint, revision: e.revision }
  }

  /**
   * Claims the shard for `epoch`/`owner`: returns the checkpoint to restore and the revision to
   * write against. Retries when a deposed owner writes in between.
   */
  async claim(shard: number, epoch: number, owner: string, now: number): Promise<{ checkpoint: Checkpoint; revision: number }> {
    for (let attempt = 0; ; attempt++) {
      const { checkpoint, revision } = await this.read(shard)
      const claimed: Checkpoint = checkpoint
        ? { ...checkpoint, epoch, owner, at: now }
        : { shard, streamSeq: 0, epoch, owner, at: now, actors: [] }
      try {
        const rev = await this.write(claimed, revision)
        return { checkpoint: claimed, revision: rev }
      } catch (e) {
        if (!(e instanceof LeaseLost) || attempt >= 5) throw e
      }
    }
  }

  /** Writes a checkpoint with CAS on `expectedRevision`; LeaseLost if another owner wrote since. */
  async write(cp: Checkpoint, expectedRevision: number): Promise<number> {
    const bytes = packr.pack(cp)
    if (bytes.length > maxCheckpointBytes) throw new CheckpointTooLarge({ shard: cp.shard, bytes: bytes.length })
    try {
      return expectedRevision === 0
        ? await this.kv.create(key(cp.shard), bytes)
        : await this.kv.update(key(cp.shard), bytes, expectedRevision)
    } catch (e) {
      if (isWrongLastSequence(e)) throw new LeaseLost({ shard: cp.shard, cause: e })
      throw e
    }
  }
}
