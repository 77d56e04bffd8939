/**
 * Per-device reading budgets (token buckets) shared by every connection of one gateway, so a
 * device's budget holds across read chunks and across reconnects: a device that reconnects gets
 * the bucket it left, not a fresh one. A bucket that has refilled to its burst is the same as no
 * bucket, so {@link RateBudgets.prune} forgets those and the map stays as large as the set of
 * devices that spent something in the last `burst / rate` seconds. Pure: time is passed in.
 */
interface Bucket {
  tokens: number
  at: number
}

export class RateBudgets {
  private readonly buckets = new Map<string, Bucket>()

  /** `rate` readings/s, at most `burst` readings at once after a quiet spell. */
  constructor(readonly rate: number, readonly burst: number = rate) {}

  /** Readings `device` may send now (may be fractional; below 1 means "wait"). */
  available(device: string, now: number): number {
    const b = this.buckets.get(device)
    if (!b) return this.burst
    this.refill(b, now)
    return b.tokens
  }

  /** Charges one reading to `device`. */
  spend(device: string, now: number): void {
    let b = this.buckets.get(device)
    if (!b) this.buckets.set(device, (b = { tokens: this.burst, at: now }))
    else this.refill(b, now)
    b.tokens -= 1
  }

  /** Milliseconds until `device` has `want` readings of budget (0 if it has them now). */
  waitMs(device: string, now: number, want: number): number {
    const have = this.available(device, now)
    return have >= want ? 0 : Math.ceil(((want - have) / this.rate) * 1000)
  }

  /** Forgets buckets that are full again; returns how many are kept. */
  prune(now: number): number {
    for (const [d, b] of this.buckets) {
      this.refill(b, now)
      if (b.tokens >= this.burst) this.buckets.delete(d)
    }
    return this.buckets.size
  }

  get size(): number {
    return this.buckets.size
  }

  private refill(b: Bucket, now: number): void {
    if (now > b.at) {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.rate) / 1000)
      b.at = now
    }
  }
}
