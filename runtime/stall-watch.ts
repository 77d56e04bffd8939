import type { Cancel, Clock } from "./clock.ts"

/**
 * Notices when this process's event loop was blocked: a timer due every `everyMs` that fires
 * `thresholdMs` or more late reports the delay. Timers, sockets and batches wait just as long;
 * heartbeats (from their own thread) stop only past `node.watchdogMs`, so a stall that long
 * explains a node fencing itself.
 */
export const watchStalls = (clock: Clock, o: { readonly everyMs: number; readonly thresholdMs: number; readonly onStall: (lateMs: number) => void }): Cancel => {
  let last = clock.now()
  return clock.every(o.everyMs, () => {
    const now = clock.now()
    const late = now - last - o.everyMs
    last = now
    if (late >= o.thresholdMs) o.onStall(late)
  })
}
