import type { Clock } from "../../runtime/clock.ts"
import { backoffDelay, retry, type Backoff } from "../../runtime/retry.ts"
import type { Channel } from "./channel.ts"
import { DeliveryFailed } from "./errors.ts"
import type { Notification } from "./message.ts"

/** Retry policy of one delivery (config `notify`). */
export interface RetryPolicy {
  readonly maxAttempts: number
  readonly retryMinMs: number
  readonly retryMaxMs: number
}

const backoffOf = (p: RetryPolicy): Backoff => ({ initialMs: p.retryMinMs, maxMs: p.retryMaxMs, jitter: 0 })

/** Delay before attempt `attempt + 1` after `attempt` failures: doubling from `retryMinMs` up to `retryMaxMs`. */
export const backoffMs = (attempt: number, p: RetryPolicy): number => backoffDelay(backoffOf(p), attempt)

/** How a delivery ended. */
export type DeliveryOutcome =
  | { readonly ok: true; readonly attempts: number }
  | { readonly ok: false; readonly attempts: number; readonly error: DeliveryFailed; readonly aborted?: boolean }

/**
 * Sends `n` on `channel`, retrying with backoff on `clock` until it succeeds, fails permanently,
 * or has failed `maxAttempts` times. `onAttemptFailed` runs after each failure (counting, keeping
 * the stream message alive). When `proceed` turns false (the node is stopping or lost its lease)
 * no further attempt is made and the outcome is `aborted`: the caller leaves the message
 * unacknowledged for the next owner.
 */
export const deliverWithRetry = async (
  channel: Channel,
  n: Notification,
  p: RetryPolicy,
  clock: Clock,
  onAttemptFailed: (attempt: number, e: DeliveryFailed) => void = () => {},
  proceed: () => boolean = () => true,
): Promise<DeliveryOutcome> => {
  let attempts = 0
  let aborted = false
  let last: DeliveryFailed | undefined
  const attempt = async (a: number): Promise<void> => {
    // Checked again after the wait: a node deposed meanwhile does not send.
    if (a > 1 && !proceed()) {
      aborted = true
      throw last
    }
    attempts = a
    try {
      await channel.send(n)
    } catch (cause) {
      last = cause instanceof DeliveryFailed ? cause : new DeliveryFailed({ channel: channel.name, message: String(cause), permanent: false, cause })
      onAttemptFailed(a, last)
      throw last
    }
  }
  const retryable = (): boolean => {
    if (last!.permanent || attempts >= p.maxAttempts) return false
    if (!proceed()) aborted = true
    return !aborted
  }
  try {
    await retry(attempt, { clock, backoff: backoffOf(p), maxAttempts: p.maxAttempts, retryable })
    return { ok: true, attempts }
  } catch {
    return aborted ? { ok: false, attempts, error: last!, aborted: true } : { ok: false, attempts, error: last! }
  }
}
