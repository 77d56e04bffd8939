import type { ActorTableSnapshot } from "./actor-table.ts"
import type { Checkpoint, Checkpoints } from "./checkpoints.ts"
import type { Clock } from "./clock.ts"
import { LeaseLost } from "./errors.ts"
import type { Lease } from "./leases.ts"
import type { ShardOutputs } from "./shard-outputs.ts"
import type { SinkPort } from "./sink-port.ts"

/** What a checkpointer is given by its shard host. */
export interface CheckpointerDeps {
  readonly shard: number
  readonly lease: Lease
  readonly owner: string
  readonly checkpoints: Checkpoints
  readonly clock: Clock
  readonly sink: SinkPort
  readonly outputs: ShardOutputs
  /** Every actor's snapshot and pending timers, taken synchronously at `now`. */
  readonly snapshot: (now: number) => ActorTableSnapshot
  /** The actors' change counter ({@link ActorTable.version}): unchanged since a checkpoint means nothing to write. */
  readonly version: () => number
  readonly checkpointMs: number
  readonly checkpointBytesPerSec?: number | undefined
  /** Counters to update (the host's metrics object, shown by `ops cluster` and Prometheus). */
  readonly metrics: { checkpoints: number; checkpointBytes: number }
}

/**
 * Where in the checkpoint interval shard `shard` takes its turn, in [0, 1): the fractional parts
 * of multiples of the golden ratio, which spread any set of shards a node holds over the interval.
 */
export const checkpointPhase = (shard: number): number => (shard * 0.6180339887498949) % 1

/**
 * One shard's checkpoint schedule and fencing: claims the shard's checkpoint for the lease's
 * epoch, then writes each one with CAS on the revision it last wrote (a deposed owner's write
 * fails with LeaseLost). A checkpoint snapshots the actors at once, then waits for the outputs
 * sent before it and for the sink, so it never claims more than is durable. After a checkpoint of
 * B bytes the next waits at least B ÷ `checkpointBytesPerSec` seconds (and `checkpointMs`).
 * A checkpoint at the position of the last one, with no actor changed since, is not written
 * again: an idle shard's cost does not grow with its passive actors.
 */
export class Checkpointer {
  private revision = 0
  /** Stream position of the last checkpoint written (or restored). */
  seq = 0
  /** The actors' version that checkpoint holds (undefined: none written or restored yet). */
  private version: number | undefined
  private lastAt = 0
  private gapMs: number
  /** The background checkpoint under way, if any. */
  running: Promise<void> | undefined

  constructor(private readonly d: CheckpointerDeps) {
    this.gapMs = d.checkpointMs
  }

  /** Claims the shard's checkpoint for this lease: the checkpoint to restore. */
  async claim(): Promise<Checkpoint> {
    const d = this.d
    const { checkpoint, revision } = await d.checkpoints.claim(d.shard, d.lease.epoch, d.owner, d.clock.now())
    this.revision = revision
    return checkpoint
  }

  /**
   * The host restored `cp`: the schedule starts from now, shifted by the shard's phase, so the
   * shards a node starts together do not all snapshot in the same event-loop turn every interval.
   */
  restored(cp: Checkpoint): void {
    this.seq = cp.streamSeq
    this.version = this.d.version()
    this.lastAt = this.d.clock.now() - checkpointPhase(this.d.shard) * this.d.checkpointMs
  }

  /** Has the gap since the last checkpoint passed, with none running? */
  due(now: number): boolean {
    return now - this.lastAt >= this.gapMs && !this.running
  }

  /** Starts a checkpoint at `seq` in the background; `onError` gets its failure. */
  start(seq: number, onError: (e: unknown) => void): void {
    this.running = this.write(seq).catch(onError).finally(() => (this.running = undefined))
  }

  /** Snapshots now, waits for durability, then writes fenced; nothing when the last checkpoint already holds it all. */
  async write(seq: number): Promise<void> {
    const d = this.d
    this.lastAt = d.clock.now()
    const version = d.version()
    if (seq === this.seq && version === this.version) return
    const { actors, timers } = d.snapshot(this.lastAt)
    await d.outputs.take()
    await d.sink.flush()
    this.revision = await d.checkpoints.write(
      { shard: d.shard, streamSeq: seq, epoch: d.lease.epoch, owner: d.owner, at: d.clock.now(), actors, timers },
      this.revision,
    )
    this.seq = seq
    this.version = version
    d.metrics.checkpoints++
    const bytes = d.checkpoints.lastBytes(d.shard)
    const rate = d.checkpointBytesPerSec
    this.gapMs = Math.max(d.checkpointMs, rate ? (bytes / rate) * 1000 : 0)
    d.metrics.checkpointBytes = bytes
  }

  /** The checkpoint this host last wrote, read back to resume from; LeaseLost when another owner wrote since. */
  async reread(): Promise<Checkpoint> {
    await this.running
    const { checkpoint, revision } = await this.d.checkpoints.read(this.d.shard)
    if (revision !== this.revision || !checkpoint) throw new LeaseLost({ shard: this.d.shard })
    return checkpoint
  }
}
