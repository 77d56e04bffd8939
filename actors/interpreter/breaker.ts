/**
 * A circuit breaker as plain state with an injected clock: after `failures` consecutive
 * failures it opens for `cooldownMs` (requests are not even tried), then lets one probe through
 * (half-open); a success closes it, a failure opens it again.
 */
export class Breaker {
  private consecutive = 0
  private openUntil = 0
  private probing = false
  /** Times the breaker opened. */
  opened = 0

  constructor(private readonly failures: number, private readonly cooldownMs: number) {}

  /** True when a request may go out now (closed, or the one half-open probe). */
  allow(now: number): boolean {
    if (this.consecutive < this.failures) return true
    if (now < this.openUntil || this.probing) return false
    this.probing = true
    return true
  }

  success(): void {
    this.consecutive = 0
    this.probing = false
  }

  failure(now: number): void {
    this.probing = false
    if (++this.consecutive >= this.failures) {
      if (now >= this.openUntil) this.opened++
      this.openUntil = now + this.cooldownMs
    }
  }

  /** "closed", "open" or "half-open" at `now`. */
  state(now: number): "closed" | "open" | "half-open" {
    return this.consecutive < this.failures ? "closed" : now < this.openUntil || this.probing ? "open" : "half-open"
  }
}

/** A bounded map that forgets the least recently used entry first. */
export class Lru<V> {
  private readonly m = new Map<string, V>()
  constructor(private readonly size: number) {}
  get(k: string): V | undefined {
    const v = this.m.get(k)
    if (v !== undefined) {
      this.m.delete(k)
      this.m.set(k, v)
    }
    return v
  }
  set(k: string, v: V): void {
    if (this.size <= 0) return
    this.m.delete(k)
    this.m.set(k, v)
    if (this.m.size > this.size) this.m.delete(this.m.keys().next().value!)
  }
}
