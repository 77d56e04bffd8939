/**
 * The one retry-with-backoff of the code base: capped exponential backoff with jitter on the
 * injected {@link Clock}, so a test clock drives it deterministically. Callers say which errors
 * are worth retrying, how long to keep going, and what to count or log on each retry.
 */
import type { Clock } from "./clock.ts"

export interface Backoff {
  /** Delay before the first retry. */
  readonly initialMs: number
  /** Cap of any one delay. */
  readonly maxMs: number
  /** Growth per attempt (default 2). */
  readonly factor?: number
  /** Fraction of each delay drawn at random, 0..1 (default 0.2): `d·(1−j) + d·j·random()`. */
  readonly jitter?: number
}

export interface RetryOptions {
  readonly clock: Clock
  readonly backoff: Backoff
  /** Attempts in all, the first one included (default: unbounded). */
  readonly maxAttempts?: number
  /** Gives up once this many ms have passed since the first attempt (checked before each wait). */
  readonly deadlineMs?: number
  /** Whether an error is worth another attempt (default: every error). */
  readonly retryable?: (e: unknown) => boolean
  /** Called before each wait: the error, the attempt that failed (1-based) and the delay chosen. */
  readonly onRetry?: (e: unknown, attempt: number, delayMs: number) => void
  /** Stops the waiting: the returned promise rejects with the signal's reason. */
  readonly signal?: AbortSignal
  /** Source of jitter (default Math.random); tests pass a fixed one. */
  readonly random?: () => number
}

/** The delay before retry number `attempt` (1 = after the first failure). Pure. */
export const backoffDelay = (b: Backoff, attempt: number, random: () => number = Math.random): number => {
  const base = Math.min(b.maxMs, b.initialMs * (b.factor ?? 2) ** Math.max(0, attempt - 1))
  const j = Math.min(1, Math.max(0, b.jitter ?? 0.2))
  return Math.round(base * (1 - j) + base * j * random())
}

/**
 * Runs `op` until it resolves, an error is not retryable, attempts or the deadline run out (the
 * last error is thrown), or `signal` aborts (its reason is thrown).
 */
export const retry = async <T>(op: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> => {
  const start = o.clock.now()
  for (let attempt = 1; ; attempt++) {
    if (o.signal?.aborted) throw o.signal.reason
    try {
      return await op(attempt)
    } catch (e) {
      if (o.signal?.aborted) throw o.signal.reason
      if (o.retryable && !o.retryable(e)) throw e
      if (o.maxAttempts !== undefined && attempt >= o.maxAttempts) throw e
      const delay = backoffDelay(o.backoff, attempt, o.random)
      if (o.deadlineMs !== undefined && o.clock.now() - start + delay > o.deadlineMs) throw e
      o.onRetry?.(e, attempt, delay)
      await o.clock.sleep(delay, o.signal)
    }
  }
}
