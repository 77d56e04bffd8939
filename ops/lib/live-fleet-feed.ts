import { type Cancel, type Clock, systemClock } from "../../runtime/clock.ts"
import type { Bus } from "../../runtime/nats/ports.ts"
import { LiveFleet } from "../../gateway/http/live-fleet.ts"
import { decodeBatch } from "../../runtime/index.ts"

/** Options of {@link liveFleetFeed}. */
export interface LiveFleetFeedOptions {
  readonly width: number
  /** Stop watching this long after the last request (ms). */
  readonly idleMs?: number
  /** A request that starts the feed waits this long so the answer is not empty (one reading period at 2 Hz, plus margin). */
  readonly warmMs?: number
  /** Time and the idle check (default: the system clock). */
  readonly clock?: Clock
}

/**
 * Feeds a {@link LiveFleet} from the telemetry subjects (`akis.tlm.*`, a plain subscription next to
 * the shard hosts' JetStream consumers) only while the dashboard asks: the first request subscribes,
 * and `idleMs` without one unsubscribes and forgets, so a node nobody looks at pays nothing.
 */
export const liveFleetFeed = (bus: Bus, o: LiveFleetFeedOptions) => {
  const idleMs = o.idleMs ?? 60_000
  const warmMs = o.warmMs ?? 700
  const clock = o.clock ?? systemClock
  const fleet = new LiveFleet(o.width)
  let sub: { unsubscribe(): void } | undefined
  let since = 0
  let lastAsk = 0
  let stopIdleCheck: Cancel | undefined
  const stop = () => {
    sub?.unsubscribe()
    sub = undefined
    stopIdleCheck?.()
    stopIdleCheck = undefined
    fleet.clear()
  }
  return {
    metrics: fleet.metrics,
    async snapshot(fields: ReadonlyArray<{ name: string; index: number }>) {
      lastAsk = clock.now()
      if (!sub) {
        since = lastAsk
        sub = bus.subscribe("akis.tlm.*", (m) => {
          try {
            fleet.add(decodeBatch(m.data))
          } catch {
            fleet.metrics.malformed++ // the shard hosts count and skip it too
          }
        })
        stopIdleCheck = clock.every(Math.min(idleMs, 10_000), () => clock.now() - lastAsk > idleMs && stop())
      }
      const young = since + warmMs - clock.now()
      if (young > 0) await clock.sleep(young)
      return { since, ...fleet.snapshot(fields) }
    },
    stop,
  }
}
