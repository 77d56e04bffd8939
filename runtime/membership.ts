import type { Cancel, Clock } from "./clock.ts"
import type { Kv, KvWatch } from "./nats/ports.ts"
import { isWireDecodeError, MemberRecord } from "./wire.ts"

/** What a node says about itself in `akis_members` (key `<id>`). */
export interface MemberInfo {
  readonly id: string
  readonly roles: ReadonlyArray<string>
  readonly version: string
  readonly pid: number
  readonly host: string
  readonly startedAt: number
  /** A draining node is leaving: placement no longer gives it shards. */
  readonly draining: boolean
  /** Heartbeat counter. */
  readonly hb: number
  /** Sender's clock at the heartbeat (shown by `ops cluster`; liveness does not depend on it). */
  readonly at: number
}

/** A member as this node sees it. */
export interface MemberView extends MemberInfo {
  /** Local time the member's heartbeat last changed. */
  readonly lastSeen: number
  readonly alive: boolean
}

/** Membership settings. */
export interface MembershipOptions {
  readonly heartbeatMs: number
  readonly suspicionMs: number
}

/** What a node says of itself that does not change between heartbeats. */
export type MemberSelf = Omit<MemberInfo, "hb" | "at" | "draining">

/**
 * Writes this node's heartbeats into `akis_members`, one every `heartbeatMs`, and tells when the
 * newest stored one was sent. {@link inlineHeartbeats} writes them from the node's event loop;
 * runtime/nats/heartbeat-thread.ts from a thread of their own, so a starved event loop does not
 * make a live node look dead to itself.
 */
export interface Heartbeats {
  /** Writes the first heartbeat (stored or failed: failing counts as unhealthy time), then keeps beating. */
  start(): Promise<void>
  /** From now on heartbeats say `draining`; one is written at once. */
  drain(): Promise<void>
  /** When the newest stored heartbeat was sent, by the node's clock; creation time before the first. */
  lastOk(): number
  /** Stretches in which heartbeats were held back because the event loop had not turned for too long (threads only). */
  withheld(): number
  stop(): Promise<void>
}

/** Options of {@link inlineHeartbeats} for the heartbeat thread, which runs them on a loop of its own. */
export interface InlineHeartbeatHooks {
  /** Heartbeats say draining from the start (a heartbeat thread started again after a drain). */
  readonly draining?: boolean
  /** Asked before each heartbeat: false holds it back (the thread's watchdog). */
  readonly mayBeat?: (now: number) => boolean
  /** A heartbeat sent at `sentAt` was stored (the thread passes its health on to the node). */
  readonly stored?: (sentAt: number) => void
}

/** Heartbeats written from this event loop: a heartbeat is as late as the loop is. */
export const inlineHeartbeats = (kv: Kv, self: MemberSelf, opts: Pick<MembershipOptions, "heartbeatMs">, clock: Clock, hooks: InlineHeartbeatHooks = {}): Heartbeats => {
  let hb = 0
  let draining = hooks.draining ?? false
  let lastOk = clock.now()
  let lastBeat = 0
  let timer: Cancel | undefined
  const beat = async (): Promise<void> => {
    const sentAt = (lastBeat = clock.now())
    if (hooks.mayBeat && !hooks.mayBeat(sentAt)) return
    const info: MemberInfo = { ...self, draining, hb: ++hb, at: sentAt }
    try {
      await kv.put(self.id, MemberRecord.toJson(info))
      // Healthy counts from when the heartbeat was sent, not from when its ack was read: the
      // others count from when they saw it stored, which is before the ack arrives. An ack read
      // late (the process was stopped or starved after the server stored it) must not extend
      // this node's health beyond what the others grant it.
      lastOk = Math.max(lastOk, sentAt)
      hooks.stored?.(sentAt)
    } catch {
      // Counted as unhealthy time; healthy() turns false once heartbeats have failed long enough.
    }
  }
  return {
    async start() {
      await beat()
      timer = clock.every(Math.max(50, Math.floor(opts.heartbeatMs / 2)), () => {
        if (clock.now() - lastBeat >= opts.heartbeatMs - 10) void beat()
      })
    },
    async drain() {
      draining = true
      await beat()
    },
    lastOk: () => lastOk,
    withheld: () => 0,
    async stop() {
      timer?.()
      timer = undefined
    },
  }
}

/**
 * Heartbeats this node into `akis_members` (through its {@link Heartbeats}) and tracks the others. nats-server 2.9 has no per-key
 * TTL, so liveness is read from heartbeats: a member whose revision has not changed for
 * `suspicionMs` (by this node's own clock, so clock skew between hosts does not matter) is dead.
 * A node whose own heartbeats fail for `suspicionMs - heartbeatMs` considers itself unhealthy and
 * must stop processing before the others can declare it dead (self-fencing).
 */
export class Membership {
  private readonly seen = new Map<string, { info: MemberInfo; revision: number; lastSeen: number }>()
  private readonly malformedAt = new Map<string, number>()
  /** Values in `akis_members` that were not heartbeats (each revision counted once). */
  malformed = 0
  private readonly beats: Heartbeats
  private timer: Cancel | undefined
  private polling = false
  private watcher: KvWatch | undefined
  private listeners: Array<() => void> = []
  private signature = ""

  /** `heartbeats`: how this node's own heartbeats are written; default {@link inlineHeartbeats} on `kv`. */
  constructor(
    private readonly kv: Kv,
    private readonly self: MemberSelf,
    private readonly opts: MembershipOptions,
    private readonly clock: Clock,
    heartbeats?: (self: MemberSelf, opts: MembershipOptions) => Heartbeats,
  ) {
    this.beats = heartbeats ? heartbeats(self, opts) : inlineHeartbeats(kv, self, opts, clock)
  }

  /** Writes the first heartbeat, reads the members and starts the heartbeat loop and the watch. */
  async start(): Promise<void> {
    await this.beats.start()
    await this.poll()
    // Members age out by time alone: re-evaluate even when the watch brought nothing.
    this.timer = this.clock.every(Math.max(50, Math.floor(this.opts.heartbeatMs / 2)), () => this.evaluate())
    void this.watchLoop()
  }

  /** Called whenever the set of live workers (or a draining flag) changes. */
  onChange(cb: () => void): void {
    this.listeners.push(cb)
  }

  /** True while this node's heartbeats are being stored; when false it must stop processing. */
  healthy(): boolean {
    return this.clock.now() - this.beats.lastOk() < this.opts.suspicionMs - this.opts.heartbeatMs
  }

  /** When this node's newest stored heartbeat was sent (its health counts from then). */
  lastOk(): number {
    return this.beats.lastOk()
  }

  /** Stretches in which this node's heartbeats were held back for a stalled event loop (`node.heartbeats_withheld`). */
  heartbeatsWithheld(): number {
    return this.beats.withheld()
  }

  /** Marks this node draining (placement moves its shards away) and publishes it at once. */
  async drain(): Promise<void> {
    await this.beats.drain()
  }

  /** Every member this node knows about, alive or not. */
  view(): MemberView[] {
    const now = this.clock.now()
    return [...this.seen.values()].map(({ info, lastSeen }) => ({
      ...info,
      lastSeen,
      alive: info.id === this.self.id ? this.healthy() : now - lastSeen < this.opts.suspicionMs,
    }))
  }

  /** Live, non-draining members with the worker role: the input of placement. */
  workers(): string[] {
    return this.view().filter((m) => m.alive && !m.draining && m.roles.includes("worker")).map((m) => m.id).sort()
  }

  /** Is `id` alive as far as this node can tell? */
  isAlive(id: string): boolean {
    return this.view().some((m) => m.id === id && m.alive)
  }

  /** Stops heartbeating; with `leave`, deletes this node's key so others see it go at once. */
  async stop(leave: boolean): Promise<void> {
    this.timer?.()
    this.timer = undefined
    this.watcher?.stop()
    await this.beats.stop()
    if (leave) await this.kv.delete(this.self.id).catch(() => {})
  }

  /**
   * Follows `akis_members` with a KV watch (one ordered consumer) instead of listing keys on
   * every tick (a new consumer each time, costly for nats-server under load). A watch that ends
   * (connection trouble) is re-read with a poll and restarted.
   */
  private async watchLoop(): Promise<void> {
    while (this.timer) {
      try {
        const w = await this.kv.watch()
        this.watcher = w
        for await (const e of w) {
          if (e.operation === "PUT") this.observe(e.key, e.revision, e.value)
          else this.seen.delete(e.key)
          this.evaluate()
        }
      } catch {
        // fall through: poll and watch again
      }
      if (!this.timer) return
      await this.clock.sleep(this.opts.heartbeatMs)
      await this.poll()
    }
  }

  private observe(key: string, revision: number, value: Uint8Array): void {
    const prev = this.seen.get(key)
    if (!prev || prev.revision !== revision) {
      let info: MemberInfo
      try {
        info = MemberRecord.fromJson(value)
      } catch (e) {
        if (!isWireDecodeError(e)) throw e
        // Not a heartbeat: no member there (as if deleted), counted once per revision.
        if (this.malformedAt.get(key) !== revision) (this.malformed++, this.malformedAt.set(key, revision))
        this.seen.delete(key)
        return
      }
      this.seen.set(key, { info, revision, lastSeen: this.clock.now() })
    }
  }

  private evaluate(): void {
    const sig = this.workers().join(",")
    if (sig !== this.signature) {
      this.signature = sig
      for (const l of this.listeners) l()
    }
  }

  /** Reads every member key once (at start, and after the watch failed). */
  private async poll(): Promise<void> {
    if (this.polling) return
    this.polling = true
    try {
      const keys = await this.kv.keys()
      const entries = await Promise.all(keys.map((k) => this.kv.get(k).catch(() => null)))
      const present = new Set<string>()
      for (const e of entries) {
        if (!e || e.operation !== "PUT") continue
        present.add(e.key)
        this.observe(e.key, e.revision, e.value)
      }
      for (const k of [...this.seen.keys()]) if (!present.has(k)) this.seen.delete(k)
    } catch {
      // NATS unreachable: members age out by themselves; healthy() covers this node.
    } finally {
      this.polling = false
    }
    this.evaluate()
  }
}
