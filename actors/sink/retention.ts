import type { Clock } from "../../runtime/clock.ts"
import { makeElectedJob } from "./internal/elected-job.ts"
import type { Store } from "./store.ts"
import { dropExpired } from "./tables.ts"

/** Counters of the retention job. */
export interface RetentionMetrics {
  runs: number
  partitionsDropped: number
  errors: number
  /** Runs skipped because the lease that elected this node had moved. */
  notOwner: number
}

export interface RetentionOptions {
  readonly retentionDays: number
  /** How often expired partitions are looked for while this node holds the lease. */
  readonly everyMs: number
  /** Time and timers (default: the system clock). */
  readonly clock?: Clock | undefined
  readonly onDropped?: ((partitions: ReadonlyArray<string>) => void) | undefined
  readonly onError?: ((e: unknown) => void) | undefined
}

/** A running retention job. */
export interface RetentionJob {
  readonly metrics: RetentionMetrics
  /**
   * This node now holds the electing lease, checked by `fence`: run now and every `everyMs` while
   * `fence` says the lease is still ours. A later `hold` replaces the fence (a newer lease).
   */
  hold(fence: () => Promise<boolean>): void
  stop(): void
}

/**
 * Drops ClickHouse partitions older than `retentionDays` (telemetry and rollup by day, alerts by
 * month; 18.16 has no TTL) on exactly one node at a time: the holder of one lease. The node wires
 * it to shard 0's lease, which the runtime keeps single-owner and fenced; every run re-checks the
 * lease first, so a deposed holder stops by itself. Dropping is idempotent, so the brief overlap a
 * takeover may cause is harmless.
 */
export const makeRetentionJob = (store: Store, opts: RetentionOptions): RetentionJob => {
  const metrics: RetentionMetrics = { runs: 0, partitionsDropped: 0, errors: 0, notOwner: 0 }
  const job = makeElectedJob(metrics, {
    everyMs: opts.everyMs, clock: opts.clock, onError: opts.onError,
    run: async (now) => {
      const dropped = await dropExpired(store, opts.retentionDays, now)
      metrics.partitionsDropped += dropped.length
      if (dropped.length) opts.onDropped?.(dropped)
    },
  })
  return {
    metrics,
    hold(f) {
      if (opts.retentionDays > 0) job.hold(f)
    },
    stop: job.stop,
  }
}
