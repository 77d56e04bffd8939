/**
 * Digests waiting for their window to close, and the timer that sends them: every
 * {@link digestPollMs} on the notifier's clock, the digests whose window has passed are taken out
 * and handed on, so a digest goes out at most that late. Split from notifier.ts so the timing runs
 * on a TestClock without NATS.
 */
import type { Cancel, Clock } from "../../runtime/clock.ts"

/** How often waiting digests are checked. */
export const digestPollMs = 200

/** One digest being collected: its channel, the members folded in so far, when its window closes. */
export interface Digest<M> {
  readonly key: string
  readonly channel: string
  readonly members: M[]
  readonly flushAt: number
}

export class Digests<M> {
  private readonly waiting = new Map<string, Digest<M>>()

  /** Folds `member` into digest `key`; a new digest's window closes `windowMs` after `now`. */
  add(key: string, channel: string, member: M, now: number, windowMs: number): void {
    let d = this.waiting.get(key)
    if (!d) this.waiting.set(key, (d = { key, channel, members: [], flushAt: now + windowMs }))
    d.members.push(member)
  }

  /** Takes out the digests whose window has closed at `now` (all of them with `force`). */
  take(now: number, force = false): Digest<M>[] {
    const out: Digest<M>[] = []
    for (const [key, d] of this.waiting) {
      if (!force && d.flushAt > now) continue
      this.waiting.delete(key)
      out.push(d)
    }
    return out
  }

  get size(): number {
    return this.waiting.size
  }
}

/** Sends each digest once its window has closed, while `live()`; returns the stop function. */
export const flushDigestsOnTime = <M>(clock: Clock, digests: Digests<M>, live: () => boolean, send: (d: Digest<M>) => void): Cancel =>
  clock.every(digestPollMs, () => {
    if (live()) for (const d of digests.take(clock.now())) send(d)
  })
