/**
 * What a gateway knows of how far the cluster's shards are behind: the last lag report of each
 * worker node (`akis.ctl.lag.<node>`, published every heartbeat: its most lagging shard, in
 * batches still to read). While a fresh report is above `maxLagBatches`, the gateway admits no new
 * device (Admission's `cluster_lagging`, refused at accept before any TLS work); devices already
 * connected go on. Each device that connects sends a reading that wakes its actor, the most
 * expensive thing a worker does per device: after a gateway restart, admitting devices faster
 * than the workers can wake their actors only builds lag (seconds of it at 100k devices), the
 * readiness bound (`api.readyMaxLagBatches`) is crossed, and the readings of every connected
 * device wait behind the storm. Refused devices retry after their back-off. Off unless
 * `gateway.admitMaxLagBatches` is set: on the scale bench it slowed the reconnect more than it
 * helped the lag (docs/gateway.md, "Cluster lag").
 *
 * A report is trusted for `staleMs` (the gateway gives it ten heartbeats: a worker starved of CPU
 * sends late, and must not open admission by that): a node that stops reporting (dead) no longer
 * holds admission closed after that. Pure: time is passed in.
 */
import type { LagReport } from "../runtime/wire.ts"

export class ClusterLag {
  private readonly reports = new Map<string, { readonly lagBatches: number; readonly shard: number | null; readonly at: number }>()

  /** `maxLagBatches` 0: admission never closes on lag. */
  constructor(readonly maxLagBatches: number, readonly staleMs: number) {}

  note(r: LagReport, now: number): void {
    this.reports.set(r.node, { lagBatches: r.lagBatches, shard: r.shard, at: now })
  }

  /** The most lagging fresh report (forgets stale ones): lag 0 and no node when none. */
  worst(now: number): { readonly node: string | undefined; readonly shard: number | null; readonly lagBatches: number } {
    let worst: { node: string | undefined; shard: number | null; lagBatches: number } = { node: undefined, shard: null, lagBatches: 0 }
    for (const [node, r] of this.reports) {
      if (now - r.at > this.staleMs) this.reports.delete(node)
      else if (r.lagBatches > worst.lagBatches) worst = { node, shard: r.shard, lagBatches: r.lagBatches }
    }
    return worst
  }

  /** Is a shard further behind than the bound (new devices are refused)? */
  over(now: number): boolean {
    return this.maxLagBatches > 0 && this.worst(now).lagBatches > this.maxLagBatches
  }
}
