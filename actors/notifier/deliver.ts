import type { Channel } from "./channel.ts"
import { DeliveryFailed } from "./errors.ts"
import type { Notification } from "./message.ts"

/** Retry policy of one delivery (config `notify`). */
export interface RetryPolicy {
  readonly maxAttempts: number
  readonly retryMinMs: number
  readonly retryMaxMs: number
}

/** Delay before attempt `attempt + 1` after `attempt` failures: doubling from `retryMinMs` up to `retryMaxMs`. */
export const backoffMs = (attempt: number, p: RetryPolicy): number => Math.min(p.retryMaxMs, p.retryMinMs * 2 ** Math.min(Math.max(0, attempt - 1), 30))

/** How a delivery ended. */
export type DeliveryOutcome =
  | { readonly ok: true; readonly attempts: number }
  | { readonly ok: false; readonly attempts: number; readonly error: DeliveryFailed; readonly aborted?: boolean }

/**
 * Sends `n` on `channel`, retrying with backoff until it succeeds, fails permanently, or has
 * failed `maxAttempts` times. `onAttemptFailed` runs after each failure (counting, keeping the
 * stream message alive); `sleep` is injected so tests run without waiting. When `proceed` turns
 * false (the node is stopping or lost its lease) no further attempt is made and the outcome is
 * `aborted`: the caller leaves the message unacknowledged for the next owner.
 */
export const deliverWithRetry = async (
  channel: Channel,
  n: Notification,
  p: RetryPolicy,
  sleep: (ms: number) => Promise<void>,
  onAttemptFailed: (attempt: number, e: DeliveryFailed) => void = () => {},
  proceed: () => boolean = () => true,
): Promise<DeliveryOutcome> => {
  for (let attempt = 1; ; attempt++) {
    try {
      await channel.send(n)
      return { ok: true, attempts: attempt }
    } catch (cause) {
      const e = cause instanceof DeliveryFailed ? cause : new DeliveryFailed({ channel: channel.name, message: String(cause), permanent: false, cause })
      onAttemptFailed(attempt, e)
      if (e.permanent || attempt >= p.maxAttempts) return { ok: false, attempts: attempt, error: e }
      if (!proceed()) return { ok: false, attempts: attempt, error: e, aborted: true }
      await sleep(backoffMs(attempt, p))
      if (!proceed()) return { ok: false, attempts: attempt, error: e, aborted: true }
    }
  }
}
