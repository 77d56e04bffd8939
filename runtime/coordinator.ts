import type { Leases, Lease, LeaseState } from "./leases.ts"
import type { Membership } from "./membership.ts"
import { placeShards } from "./placement.ts"
import type { EventLog, ShardHost, StopReason } from "./shard-host.ts"

/** What the coordinator is given: who it is, the cluster's state, and how to make a host. */
export interface CoordinatorDeps {
  readonly id: string
  readonly partitions: number
  /** May this node process shards at all (worker role)? */
  readonly worker: boolean
  readonly membership: Pick<Membership, "healthy" | "workers" | "isAlive">
  readonly leases: Pick<Leases, "take" | "release" | "readAll">
  /** A host for a shard just leased (not started). */
  readonly makeHost: (shard: number, lease: Lease) => ShardHost
  /** A shard was released cleanly: tell the others (akis.ctl.released.<shard>). */
  readonly announceRelease: (shard: number) => void
  readonly log: EventLog
}

/**
 * Reconciles the shards this node should own (placement over live workers) with the shards it
 * holds: takes free or dead-owner leases and starts hosts for them, hands over shards placement
 * moved away (final checkpoint, lease released), and drops hosts whose lease moved or that ended
 * by themselves. Runs on membership change, on a release, and on a timer; one pass at a time, a
 * request during a pass runs another after it.
 */
export class Coordinator {
  private readonly hosts = new Map<number, ShardHost>()
  /** Shards with an acquire or a handoff under way. */
  private readonly busy = new Set<number>()
  private running: Promise<void> | undefined
  private again = false
  private draining = false
  private stopped = false

  constructor(private readonly d: CoordinatorDeps) {}

  /** Shards held now, by number. */
  get held(): ReadonlyMap<number, ShardHost> {
    return this.hosts
  }

  /** Runs a reconcile pass (or, when one is running, another right after it); resolves when done. */
  reconcile(): Promise<void> {
    if (this.running) {
      this.again = true
      return this.running
    }
    this.running = (async () => {
      try {
        do {
          this.again = false
          await this.reconcileOnce()
        } while (this.again && !this.stopped)
      } finally {
        this.running = undefined
      }
    })()
    return this.running
  }

  /**
   * Planned leave: no new shards; every held shard is handed over (final checkpoint, release).
   * `announce` tells the cluster (membership says draining, so placement moves the shards away);
   * it runs after this node has stopped taking shards, so that a pass it triggers hands them over
   * as a drain too, not as a routine handoff.
   */
  async drain(announce: () => Promise<void> = async () => {}): Promise<void> {
    this.draining = true
    await announce()
    while (this.running) await this.running
    await Promise.all([...this.hosts.keys()].map((s) => this.handOff(s, "drain")))
  }

  /** Stops every host with a final checkpoint and no release (others take over after suspicion). */
  async stop(): Promise<void> {
    this.stopped = true
    await Promise.all([...this.hosts.keys()].map((s) => this.stopHost(s, "shutdown")))
  }

  private async reconcileOnce(): Promise<void> {
    const d = this.d
    if (this.stopped) return
    // Unhealthy (heartbeats failing): the hosts pause by themselves and, once healthy, go on if
    // their lease is still current or end (see hostEnded); leases are not read or taken meanwhile.
    if (!d.membership.healthy()) return
    const canWork = d.worker && !this.draining
    const desired = placeShards(d.membership.workers(), d.partitions)
    const states = await d.leases.readAll(d.partitions).catch(() => undefined)
    if (!states) return
    const work: Promise<void>[] = []
    for (let s = 0; s < d.partitions; s++) {
      if (this.busy.has(s)) continue
      const state = states[s]!
      const held = this.hosts.get(s)
      if (held) {
        // A host that stopped by itself (unhealthy for a while, lease lost) is replaced: once the
        // node is healthy again it takes the shard anew (new epoch) from the last checkpoint.
        if (held.ended) work.push(this.stopHost(s, "fenced").then(() => void (this.again = true)))
        else if (state.value?.owner !== d.id || state.revision !== held.lease.revision) work.push(this.stopHost(s, "fenced"))
        else if (!canWork || desired[s] !== d.id) work.push(this.handOff(s))
      } else if (canWork && desired[s] === d.id) {
        const holder = state.value?.owner
        if (holder === undefined || holder === d.id || !d.membership.isAlive(holder)) work.push(this.acquire(s, state))
      }
    }
    await Promise.all(work)
  }

  /**
   * A host ended by itself (fenced by a checkpoint's CAS, lease gone after a pause, or stopped
   * while paused): it is removed at once, without waiting for a reconcile pass (which may itself
   * be waiting on KV), then a pass decides whether to take the shard anew.
   */
  async hostEnded(s: number): Promise<void> {
    if (this.hosts.get(s)?.ended) await this.stopHost(s, "fenced")
    await this.reconcile()
  }

  private async acquire(s: number, from: LeaseState): Promise<void> {
    const d = this.d
    this.busy.add(s)
    try {
      const lease = await d.leases.take(s, from)
      if (!lease) return
      const host = d.makeHost(s, lease)
      this.hosts.set(s, host)
      try {
        await host.start()
      } catch (e) {
        d.log("shard.start_failed", { shard: s, error: String(e) })
        this.hosts.delete(s)
        await host.stop("fenced")
        await d.leases.release(lease).catch(() => {})
      }
    } catch (e) {
      d.log("lease.error", { shard: s, error: String(e) })
    } finally {
      this.busy.delete(s)
    }
  }

  private async stopHost(s: number, reason: StopReason): Promise<void> {
    const h = this.hosts.get(s)
    if (!h || this.busy.has(s)) return
    this.busy.add(s)
    try {
      this.hosts.delete(s)
      await h.stop(reason)
    } finally {
      this.busy.delete(s)
    }
  }

  private async handOff(s: number, reason: StopReason = this.draining ? "drain" : "handoff"): Promise<void> {
    const h = this.hosts.get(s)
    if (!h) return
    this.busy.add(s)
    try {
      this.hosts.delete(s)
      const clean = await h.stop(reason)
      if (!clean) this.d.log("shard.handoff_unclean", { shard: s, note: "released without a final checkpoint; the next owner replays from the last one" })
      // Release even after a failed final checkpoint: keeping the lease while not processing would
      // leave the shard stuck with a live holder, and replaying from the last checkpoint is idempotent.
      if (await this.d.leases.release(h.lease).catch(() => false)) this.d.announceRelease(s)
    } finally {
      this.busy.delete(s)
    }
  }
}
