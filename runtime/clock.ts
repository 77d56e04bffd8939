/**
 * The one source of time and timers for runtime/, gateway/ and actors/. Code that waits, ticks or
 * reads the time takes a Clock; production passes {@link systemClock}, tests a {@link TestClock}
 * that moves only when the test advances it, so timer-driven behaviour (leases, heartbeats,
 * checkpoints, retries, idle timeouts) is tested without wall-clock waits and the same every run.
 */

/** Cancels a timer; calling it twice, or after the timer fired, does nothing. */
export type Cancel = () => void

export interface Clock {
  /** Epoch milliseconds. */
  now(): number
  /** Runs `fn` once after `ms` (0 allowed). */
  after(ms: number, fn: () => void): Cancel
  /** Runs `fn` every `ms` (> 0), the first time `ms` from now; an async `fn`'s rejections are its own to handle. */
  every(ms: number, fn: () => void): Cancel
  /** Resolves after `ms`; rejects with the signal's reason if `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

const sleepWith = (after: Clock["after"]) => (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = () => {
      cancel()
      reject(signal!.reason)
    }
    const cancel = after(ms, () => {
      signal?.removeEventListener("abort", onAbort)
      resolve()
    })
    signal?.addEventListener("abort", onAbort, { once: true })
  })

const systemAfter = (ms: number, fn: () => void): Cancel => {
  const h = setTimeout(fn, ms)
  return () => clearTimeout(h)
}

/** The machine's clock and timers; the one place the runtime reads wall time or arms a real timer. */
export const systemClock: Clock = {
  now: () => Date.now(),
  after: systemAfter,
  every: (ms, fn) => {
    if (!(ms > 0)) throw new RangeError(`every: period must be > 0 ms (got ${ms})`)
    const h = setInterval(fn, ms)
    return () => clearInterval(h)
  },
  sleep: sleepWith(systemAfter),
}

interface Pending {
  at: number
  readonly id: number
  readonly fn: () => void
  readonly period: number | undefined
}

/**
 * A clock that moves only when told. `advance(ms)` fires every timer due within `ms`, in time order
 * (ties in the order they were armed), with the clock set to each timer's due time while it runs,
 * and lets promise callbacks settle after each one, so `await clock.sleep(…)` chains proceed as
 * they would in real time. Deterministic: no wall clock, no real timers.
 */
export class TestClock implements Clock {
  private t: number
  private ids = 0
  private pending: Pending[] = []

  constructor(start = 1_795_000_000_000) {
    this.t = start
  }

  now(): number {
    return this.t
  }

  after(ms: number, fn: () => void): Cancel {
    return this.arm(Math.max(0, ms), fn, undefined)
  }

  every(ms: number, fn: () => void): Cancel {
    if (!(ms > 0)) throw new RangeError(`every: period must be > 0 ms (got ${ms})`)
    return this.arm(ms, fn, ms)
  }

  readonly sleep = sleepWith((ms, fn) => this.after(ms, fn))

  /** Timers armed and not yet fired or cancelled. */
  get timers(): number {
    return this.pending.length
  }

  /** Moves time forward by `ms`, firing what falls due on the way. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance: ms must be ≥ 0 (got ${ms})`)
    const end = this.t + ms
    await settle()
    for (;;) {
      const next = this.nextDue(end)
      if (!next) break
      this.t = next.at
      if (next.period === undefined) this.pending = this.pending.filter((p) => p !== next)
      else next.at += next.period
      next.fn()
      await settle()
    }
    this.t = end
  }

  /** Sets the clock to `epochMs` (not before now), firing what falls due. */
  advanceTo(epochMs: number): Promise<void> {
    return this.advance(Math.max(0, epochMs - this.t))
  }

  /**
   * Sets the clock to `epochMs` (not before now) without firing anything, as a process stopped
   * and resumed finds it: what fell due fires at the next {@link advance} (`advance(0)` at once).
   */
  jumpTo(epochMs: number): void {
    if (epochMs > this.t) this.t = epochMs
  }

  /** Lets pending promise callbacks run without moving time. */
  flush(): Promise<void> {
    return settle()
  }

  private arm(ms: number, fn: () => void, period: number | undefined): Cancel {
    const p: Pending = { at: this.t + ms, id: ++this.ids, fn, period }
    this.pending.push(p)
    return () => {
      this.pending = this.pending.filter((x) => x !== p)
    }
  }

  private nextDue(end: number): Pending | undefined {
    let best: Pending | undefined
    for (const p of this.pending) if (p.at <= end && (!best || p.at < best.at || (p.at === best.at && p.id < best.id))) best = p
    return best
  }
}

/** Drains the microtask queue a few rounds deep (promise chains resolved by a timer). */
const settle = async () => {
  for (let i = 0; i < 50; i++) await Promise.resolve()
}
