import { systemClock } from "../../../runtime/clock.ts"
import { retry } from "../../../runtime/retry.ts"

/** A check that came back falsy (not an error of its own). */
const notYet = Symbol("not yet")

/** Waits until `check` returns a truthy value (or resolves to one); throws with `what` after `timeoutMs`. */
export const waitFor = async <T>(
  what: string,
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> => {
  let last: unknown
  const attempt = async (): Promise<NonNullable<T>> => {
    try {
      const v = await check()
      if (v) return v as NonNullable<T>
      last = v
    } catch (e) {
      last = e
    }
    throw notYet
  }
  try {
    // Checked every `intervalMs` until a check fails after `timeoutMs` (hence the one interval more).
    return await retry(attempt, { clock: systemClock, backoff: { initialMs: intervalMs, maxMs: intervalMs, jitter: 0 }, deadlineMs: timeoutMs + intervalMs })
  } catch {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : String(last)})`)
  }
}
