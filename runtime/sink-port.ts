import type { ReadingBatch } from "./batch.ts"

/**
 * What a shard host needs from its sink (one per shard). The host calls `add` for every reading
 * an actor stored, `processed` after each batch, and checkpoints only up to `durableSeq`.
 * Implementations batch by size and time and insert idempotently (replays are harmless).
 */
export interface SinkPort {
  /** Queues reading `index` of `batch`, which came from stream sequence `streamSeq`. Never blocks. */
  add(batch: ReadingBatch, index: number, streamSeq: number): void
  /** Everything up to `streamSeq` has been handed over (batches with no stored rows still advance). */
  processed(streamSeq: number): void
  /** Highest stream sequence whose rows (and all before it) are durably stored. */
  readonly durableSeq: number
  /** Rows queued and not yet durable; the host pauses intake above a bound (the stream is the buffer). */
  readonly pending: number
  /** Writes everything queued now; resolves when durable (retries inside; rejects only when fenced out). */
  flush(): Promise<void>
  /** Stops timers; does not flush. */
  close(): Promise<void>
}

/** A sink that stores nothing and is always durable (tests, worker nodes without ClickHouse). */
export const noopSink = (): SinkPort => {
  let seq = 0
  return {
    add() {},
    processed(s) {
      seq = Math.max(seq, s)
    },
    get durableSeq() {
      return seq
    },
    pending: 0,
    flush: async () => {},
    close: async () => {},
  }
}
