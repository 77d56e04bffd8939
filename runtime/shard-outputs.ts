/**
 * The outputs (alert and dead-letter publishes) a shard host has sent and not yet seen acked. A
 * checkpoint takes the ones sent before its snapshot and waits for them, so it never claims an
 * effect that is not durable; the first failure is kept, and the consume loop resets on it.
 */
export class ShardOutputs {
  private pending: Array<Promise<unknown>> = []
  /** The first output that failed since the last {@link reset}. */
  failed: unknown = undefined

  /** Outputs sent and not yet taken by a checkpoint. */
  get count(): number {
    return this.pending.length
  }

  add(p: Promise<unknown>): void {
    p.catch((e) => (this.failed ??= e))
    this.pending.push(p)
  }

  /** Hands over what was sent so far: resolves when all of it is acked, rejects on the first failure. */
  take(): Promise<unknown> {
    const outputs = this.pending
    this.pending = []
    return Promise.all(outputs)
  }

  /** Forgets everything (the host is resuming from its checkpoint; replays re-send with the same ids). */
  reset(): void {
    this.pending = []
    this.failed = undefined
  }
}
