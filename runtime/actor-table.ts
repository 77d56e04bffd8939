import type { ActorContext, ActorKind } from "./actor-kind.ts"
import { packSnapshot, unpackSnapshot, type PackedSnapshot } from "./snapshot-codec.ts"

/** A live (activated) actor: its state and when it last handled a message. */
export interface LiveActor {
  state: unknown
  lastActive: number
  /**
   * The state packed as it is now, kept from the last checkpoint that packed it; undefined once a
   * reading or a changing tick touched the state. A checkpoint or a passivation uses these bytes
   * instead of packing again.
   */
  packed?: PackedSnapshot | undefined
  /** Processing time of the first tick that must run {@link ActorKind.onTick} for it (0: the next one). */
  tickAt: number
}

/** Settings of an {@link ActorTable}. */
export interface ActorTableOptions {
  /** Passivate an actor after this long without a message (and no timer due within a tick). */
  readonly actorIdleMs: number
  /** The tick interval: an actor whose next timer is due within one tick is not worth passivating. */
  readonly tickMs: number
}

/** What the table puts in a checkpoint: every actor's packed snapshot and the pending timers by actor id. */
export interface ActorTableSnapshot {
  /** [actor id, packed snapshot]; a passive actor's bytes are shared with the table, not copied (they are never mutated). */
  readonly actors: Array<readonly [string, PackedSnapshot]>
  /** [actor id, processing time its next tick is due]; only actors with a pending timer. */
  readonly timers: Array<readonly [string, number]>
}

/**
 * The actors of one shard: live instances, passive snapshots, and the timer index that wakes a
 * passive actor when one of its deadlines (absence, `for`, clear, escalation) comes due.
 *
 * A passive actor is kept as its packed snapshot (snapshot-codec.ts: msgpack, deflated),
 * unpacked only when it is activated or queried: the decoded form of a default-pack device
 * snapshot (dozens of objects, arrays and typed arrays) took 6.5 KB of heap, its bytes take 1.7
 * KB, and a checkpoint writes the bytes as they are instead of packing every idle actor again.
 *
 * Timers survive both ways an actor stops being live: an idle actor passivated with a timer
 * pending keeps an entry in the index, and a checkpoint carries the index, so the next owner of
 * the shard wakes exactly those actors on time without activating the rest. Pure: time is passed
 * in, the caller's interval drives {@link tick}.
 */
export class ActorTable {
  readonly live = new Map<string, LiveActor>()
  readonly passive = new Map<string, PackedSnapshot>()
  /** Passive actor id → processing time at which it must be woken and ticked. */
  readonly wakeups = new Map<string, number>()
  /** Earliest entry of {@link wakeups} (a lower bound: Infinity when empty), so most ticks skip the scan. */
  private nextWake = Number.POSITIVE_INFINITY
  /** The kind's {@link ActorKind.epoch} at the last tick. */
  private epoch = 0
  /**
   * Bumped by everything that may change what {@link snapshot} returns: a `get` (a reading
   * follows), a tick whose `onTick` changed a live actor (did not return false), a restore.
   * Passivation and activation alone change only the form an actor is kept in. Equal versions:
   * nothing to checkpoint again.
   */
  version = 0
  /** Activations, passivations, timer wake-ups, wake-ups that failed on an unreadable snapshot, and actor ticks run (not skipped). */
  readonly metrics = { activations: 0, passivations: 0, wakeups: 0, wakeFailures: 0, ticked: 0 }

  constructor(
    private readonly kind: ActorKind<unknown>,
    private readonly ctx: ActorContext & { now: number },
    private readonly options: ActorTableOptions,
  ) {}

  /** The live instance of `id` for a reading, activated (restored from its snapshot, or created) if needed. */
  get(id: string, now: number): LiveActor {
    this.version++
    const a = this.live.get(id) ?? this.activate(id, now)
    a.packed = undefined // a reading follows
    a.tickAt = 0
    return a
  }

  /**
   * Ticks the live actors that may change (all of them, unless the kind says when each is next
   * due: {@link ActorKind.tickDue}), first waking the passive ones whose timer is due; passivates
   * the idle ones. A skipped actor is one whose tick would have changed nothing: with a fleet of
   * mostly quiet devices, ticking every live one was a constant cost per live actor.
   */
  tick(now: number): void {
    const ctx = this.ctx
    if (now >= this.nextWake) this.wakeDue(now)
    ctx.now = now
    const { kind } = this
    const epoch = kind.epoch?.() ?? 0
    const all = epoch !== this.epoch
    this.epoch = epoch
    let changed = false
    for (const [id, a] of this.live) {
      if (kind.onTick && (all || a.tickAt <= now)) {
        this.metrics.ticked++
        if (kind.onTick(a.state, ctx) !== false) {
          a.packed = undefined
          changed = true
          a.tickAt = 0 // a step may lead to another with the same inputs (a rule raised, then its clear)
        } else a.tickAt = kind.tickDue ? Math.max(kind.tickDue(a.state, now), 1) : 0
      }
      if (now - a.lastActive > this.options.actorIdleMs && (kind.canPassivate?.(a.state, now) ?? true)) {
        const due = kind.nextTimer?.(a.state, now) ?? Number.POSITIVE_INFINITY
        // A timer due within the next tick would only be woken again at once: keep it live.
        if (due <= now + this.options.tickMs) continue
        this.passive.set(id, a.packed ?? packSnapshot(kind.snapshot(a.state)))
        this.live.delete(id)
        if (due !== Number.POSITIVE_INFINITY) this.schedule(id, due)
        this.metrics.passivations++
      }
    }
    if (changed) this.version++
  }

  /** The state of `id` for a query: the live one, or a throwaway restore of its snapshot; undefined when unknown. */
  peek(id: string): unknown {
    const a = this.live.get(id)
    if (a) return a.state
    const packed = this.passive.get(id)
    return packed === undefined ? undefined : this.kind.restore(id, unpackSnapshot(packed), this.ctx)
  }

  /**
   * Replaces everything with a checkpoint's actors (packed snapshots), all passive. `timers` is
   * the checkpoint's timer index; a checkpoint written before there was one (undefined) gets it
   * rebuilt here by asking the kind about each snapshot once.
   */
  restore(actors: ReadonlyArray<readonly [string, PackedSnapshot]>, timers: ReadonlyArray<readonly [string, number]> | undefined, now: number): void {
    this.version++
    this.live.clear()
    this.passive.clear()
    this.wakeups.clear()
    this.nextWake = Number.POSITIVE_INFINITY
    for (const [id, snap] of actors) this.passive.set(id, snap)
    if (timers) {
      for (const [id, at] of timers) if (this.passive.has(id)) this.schedule(id, at)
      return
    }
    const { kind } = this
    if (!kind.nextTimer) return
    this.ctx.now = now
    for (const [id, snap] of actors) {
      let due: number
      try {
        due = kind.nextTimer(kind.restore(id, unpackSnapshot(snap), this.ctx), now)
      } catch {
        this.metrics.wakeFailures++ // an unreadable snapshot fails again, visibly, when a reading activates it
        continue
      }
      if (due !== Number.POSITIVE_INFINITY) this.schedule(id, due)
    }
  }

  /**
   * Every actor's packed snapshot plus the timer index, for a checkpoint (nothing aliases live
   * state). A live actor is packed only if it changed since it was last packed: with many live
   * actors and few readings (a fleet reconnecting, each device sending once) packing all of them
   * at every checkpoint was most of a shard's CPU and blocked its event loop for 100s of ms.
   */
  snapshot(now: number): ActorTableSnapshot {
    const actors: Array<readonly [string, PackedSnapshot]> = [...this.passive]
    const timers: Array<readonly [string, number]> = [...this.wakeups]
    const { kind } = this
    for (const [id, a] of this.live) {
      actors.push([id, (a.packed ??= packSnapshot(kind.snapshot(a.state)))])
      const due = kind.nextTimer?.(a.state, now) ?? Number.POSITIVE_INFINITY
      if (due !== Number.POSITIVE_INFINITY) timers.push([id, due])
    }
    return { actors, timers }
  }

  // --- internals ---

  private activate(id: string, now: number): LiveActor {
    this.ctx.now = now
    const packed = this.passive.get(id)
    const state = packed === undefined ? this.kind.create(id, this.ctx) : this.kind.restore(id, unpackSnapshot(packed), this.ctx)
    this.passive.delete(id)
    this.wakeups.delete(id)
    const a: LiveActor = { state, lastActive: now, packed: undefined, tickAt: 0 }
    this.live.set(id, a)
    this.metrics.activations++
    return a
  }

  private schedule(id: string, at: number): void {
    this.wakeups.set(id, at)
    if (at < this.nextWake) this.nextWake = at
  }

  /** Activates every passive actor whose timer is due (the tick that follows ticks it). */
  private wakeDue(now: number): void {
    let next = Number.POSITIVE_INFINITY
    for (const [id, at] of this.wakeups) {
      if (at > now) {
        if (at < next) next = at
        continue
      }
      try {
        this.activate(id, now)
        this.metrics.wakeups++
      } catch {
        // Unreadable snapshot: it stays passive (a reading activating it fails in the consume
        // loop, which resets the shard); counted here so a lost timer is visible.
        this.wakeups.delete(id)
        this.metrics.wakeFailures++
      }
    }
    this.nextWake = next
  }
}
