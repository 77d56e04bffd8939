/**
 * What nodes logged that is not routine, from their JSON-lines output: errors, failures, shard
 * resets and fencing (a reset replays readings from the shard's checkpoint, which writes rows
 * twice), the event loop's stalls (`node.stalled`: a 250 ms timer ≥ 1 s late) and heartbeats withheld for a stalled loop.
 */
export interface NodeEvents {
  /** How often each unusual event was logged. */
  readonly events: Record<string, number>
  /** The first line of each kind (up to 400 characters), so what went wrong reads from the figures alone. */
  readonly first: Record<string, string>
  /** The longest a node's event loop was blocked, ms (0: never 1 s late). */
  readonly maxStallMs: number
}

const unusual = /^.*"event":"([^"]*(?:error|fail|fenced|reset|unhealthy|lost|unavailable|stalled|withheld)[^"]*)".*$/gim

/** Scans the output of one or more nodes. */
export const scanNodeEvents = (outputs: Iterable<string>): NodeEvents => {
  const events: Record<string, number> = {}
  const first: Record<string, string> = {}
  let maxStallMs = 0
  for (const out of outputs) {
    for (const m of out.matchAll(unusual)) {
      events[m[1]!] = (events[m[1]!] ?? 0) + 1
      first[m[1]!] ??= m[0].slice(0, 400)
      if (m[1] === "node.stalled") maxStallMs = Math.max(maxStallMs, Number(/"lateMs":(\d+)/.exec(m[0])?.[1] ?? 0))
    }
  }
  return { events, first, maxStallMs }
}
