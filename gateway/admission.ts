/**
 * Who may hold a socket of the device listener, and for how long. Guards the gateway (and the
 * shard actors and heartbeats sharing its event loop) against peers that never become devices:
 *
 * - `maxConnections`: open sockets of every kind (handshaking, authenticated), refused at accept.
 * - `maxHandshakesPerSec` (whole listener) and `maxHandshakesPerSecPerAddress` (one source
 *   address): new sockets per second, each with a burst of one second's worth, refused at accept,
 *   before any TLS work is done for them.
 * - `closed(now)` (the cluster's lag, gateway/cluster-lag.ts): while true, no new socket at all,
 *   refused at accept before any TLS work (`cluster_lagging`); open ones go on.
 * - `handshakeTimeoutMs`: accept → TLS handshake done; `firstFrameTimeoutMs`: handshake → first
 *   complete frame; `idleTimeoutMs`: then between any two received bytes. A socket paused by the
 *   gateway (back-pressure, rate limit) is not idle; its silence counts from when it is resumed.
 *
 * Pure: handles are opaque, time is passed in; the server calls {@link Admission.sweep} on a timer.
 */
import { RateBudgets } from "./rate.ts"

export interface AdmissionLimits {
  readonly maxConnections: number
  readonly maxHandshakesPerSec: number
  readonly maxHandshakesPerSecPerAddress: number
  readonly handshakeTimeoutMs: number
  readonly firstFrameTimeoutMs: number
  readonly idleTimeoutMs: number
}

/** Why a new socket was refused at accept; keys of `metrics.connections_refused_by_reason`. */
export type AdmissionRefusal = "max_connections" | "cluster_lagging" | "handshake_rate" | "address_handshake_rate"
/** Why an open socket timed out. */
export type Expiry = "handshake_timeout" | "first_frame_timeout" | "idle_timeout"

const Phase = { handshake: 0, firstFrame: 1, active: 2 } as const
type Phase = (typeof Phase)[keyof typeof Phase]

interface Entry {
  phase: Phase
  /** Start of the current deadline: accept, handshake, or the last byte / resume. */
  since: number
  held: boolean
}

export class Admission<H> {
  private readonly open = new Map<H, Entry>()
  private readonly perAddress: RateBudgets
  private readonly overall: RateBudgets

  /** `closed(now)`: is admission closed for now (the cluster lags behind)? Default: never. */
  constructor(readonly limits: AdmissionLimits, private readonly closed: (now: number) => boolean = () => false) {
    this.perAddress = new RateBudgets(limits.maxHandshakesPerSecPerAddress)
    this.overall = new RateBudgets(limits.maxHandshakesPerSec)
  }

  /** Open sockets being tracked. */
  get size(): number {
    return this.open.size
  }

  /** A new socket from `address`: undefined when admitted (and then tracked), else why not. */
  admit(h: H, address: string, now: number): AdmissionRefusal | undefined {
    if (this.open.size >= this.limits.maxConnections) return "max_connections"
    if (this.closed(now)) return "cluster_lagging"
    if (this.overall.available("", now) < 1) return "handshake_rate"
    if (this.perAddress.available(address, now) < 1) return "address_handshake_rate"
    this.overall.spend("", now)
    this.perAddress.spend(address, now)
    this.open.set(h, { phase: Phase.handshake, since: now, held: false })
    return undefined
  }

  /** The TLS handshake finished and the peer is a device. */
  handshaken(h: H, now: number): void {
    const e = this.open.get(h)
    if (e) {
      e.phase = Phase.firstFrame
      e.since = now
    }
  }

  /** Bytes arrived; `framed` when the connection has completed at least one frame. */
  seen(h: H, now: number, framed: boolean): void {
    const e = this.open.get(h)
    if (!e || e.phase === Phase.handshake) return
    if (framed) {
      e.phase = Phase.active
      e.since = now
    } else if (e.phase === Phase.active) e.since = now
  }

  /** The gateway paused (true) or resumed (false) reading this socket. */
  hold(h: H, held: boolean, now: number): void {
    const e = this.open.get(h)
    if (!e || e.held === held) return
    e.held = held
    if (!held && e.phase === Phase.active) e.since = now
  }

  /** The socket closed. */
  remove(h: H): void {
    this.open.delete(h)
  }

  /**
   * Sockets past their deadline, with the reason; they are no longer tracked (the caller closes
   * them). Also forgets handshake budgets that are full again.
   */
  sweep(now: number): Array<[H, Expiry]> {
    const out: Array<[H, Expiry]> = []
    const l = this.limits
    for (const [h, e] of this.open) {
      if (e.held) continue
      const age = now - e.since
      // Waiting for the first frame is never allowed longer than silence between frames.
      const firstFrame = e.phase === Phase.firstFrame && l.firstFrameTimeoutMs < l.idleTimeoutMs
      const limit = e.phase === Phase.handshake ? l.handshakeTimeoutMs : firstFrame ? l.firstFrameTimeoutMs : l.idleTimeoutMs
      if (age >= limit) {
        out.push([h, e.phase === Phase.handshake ? "handshake_timeout" : firstFrame ? "first_frame_timeout" : "idle_timeout"])
        this.open.delete(h)
      }
    }
    this.perAddress.prune(now)
    this.overall.prune(now)
    return out
  }
}
