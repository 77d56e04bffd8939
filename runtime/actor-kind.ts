import type { ReadingBatch } from "./batch.ts"

/**
 * What an actor may do while handling a reading or a tick. Outputs are buffered by the shard
 * host and made durable before the next checkpoint, so a checkpoint never claims more than was
 * published or stored.
 */
export interface ActorContext {
  /** Current processing time, epoch ms, from the node's injected clock. */
  readonly now: number
  /** Shard being processed. */
  readonly shard: number
  /** JetStream sequence of the batch being processed (0 during ticks). */
  readonly streamSeq: number
  /**
   * Publishes to JetStream after the current batch. `msgId` (deterministic, e.g. an alert
   * transition id) lets JetStream drop the copy a replay after failover would publish again.
   */
  publish(subject: string, payload: unknown, msgId?: string): void
  /** Hands reading `index` of `batch` to the shard's sink (telemetry history). */
  store(batch: ReadingBatch, index: number): void
}

/**
 * An actor kind, declared once. Instances are virtual: the shard host activates one on the
 * first reading for its id (restoring its snapshot if it had one) and passivates it when idle.
 * State is mutable and owned by the host; handlers run one at a time per shard, in stream order.
 * The handlers are the per-reading hot path: plain synchronous code, no Promise, no I/O.
 */
export interface ActorKind<S> {
  /** Kind name, as in the address `<kind>/<id>`. */
  readonly name: string
  /** A fresh instance. */
  create(id: string, ctx: ActorContext): S
  /** Handles reading `index` of `batch` (its id is `batch.ids[index]`). */
  onReading(state: S, batch: ReadingBatch, index: number, ctx: ActorContext): void
  /**
   * Called for every active instance about once per tick interval (absence rules, timers). Return
   * false when the tick changed nothing {@link snapshot} would hold: the host then keeps the bytes
   * it last packed for the instance (checkpoints, passivation) instead of packing it again. Any
   * other return (void) counts as a change.
   */
  onTick?(state: S, ctx: ActorContext): boolean | void
  /** A serialisable copy of the state (msgpack-able with the checkpoint codec: typed arrays allowed); must not alias mutable state. */
  snapshot(state: S): unknown
  /** Rebuilds an instance from {@link snapshot}'s output. */
  restore(id: string, snapshot: unknown, ctx: ActorContext): S
  /** Answers a live-state query (JSON-able result). */
  query(state: S, request: unknown): unknown
  /** May this instance be passivated now? Default: yes. Prefer {@link nextTimer} for timers: a passive actor with one is woken on time. */
  canPassivate?(state: S, now: number): boolean
  /**
   * Processing time (epoch ms, same clock as `ctx.now`) at which this instance next needs
   * {@link onTick} to run (an absence, `for`, clear or escalation deadline); `now` or earlier when
   * it needs every tick from now on; Infinity when no timer is pending. The shard host wakes a
   * passivated instance at that time, and checkpoints carry it, so a shard's next owner wakes it
   * too. Without it, a passive instance is only woken by a message.
   */
  nextTimer?(state: S, now: number): number
  /**
   * Asked after a tick at `now` that changed nothing (onTick returned false): the processing time
   * before which no tick can change this live instance either (no timer due, nothing to evict, no
   * clock-driven condition turning); the table skips its ticks until the first one at or after it.
   * `now` or earlier: tick it every time. A message, a tick that changed something, or a change of
   * {@link epoch} make the next tick run. Without it, every live instance is ticked every time.
   */
  tickDue?(state: S, now: number): number
  /** Changes when something outside the instances may change what a tick does to any of them (the device kind: a rule set swap). */
  epoch?(): number
}

/** Address of an actor: `<kind>/<id>`. */
export interface ActorAddress {
  readonly kind: string
  readonly id: string
}

/** Parses `<kind>/<id>`; the id may contain further slashes. */
export const parseAddress = (s: string): ActorAddress | undefined => {
  const i = s.indexOf("/")
  return i <= 0 || i === s.length - 1 ? undefined : { kind: s.slice(0, i), id: s.slice(i + 1) }
}
