import { type Cancel, type Clock, systemClock } from "../../../runtime/clock.ts"

/** Counters every elected job keeps. */
export interface ElectedJobMetrics {
  runs: number
  errors: number
  /** Runs skipped because the lease that elected this node had moved. */
  notOwner: number
}

export interface ElectedJobOptions {
  /** How often `run` starts while this node holds the lease. */
  readonly everyMs: number
  /** Time and timers (default: the system clock). */
  readonly clock?: Clock | undefined
  /** One pass; gets `clock.now()`. Throwing counts an error; the job keeps its schedule. */
  readonly run: (now: number) => Promise<void>
  readonly onError?: ((e: unknown) => void) | undefined
}

/** A periodic job that runs on the one node holding a lease. */
export interface ElectedJob<M extends ElectedJobMetrics = ElectedJobMetrics> {
  readonly metrics: M
  /**
   * This node now holds the electing lease, checked by `fence`: run now and every `everyMs` while
   * `fence` says the lease is still ours. A later `hold` replaces the fence (a newer lease).
   */
  hold(fence: () => Promise<boolean>): void
  stop(): void
}

/**
 * Runs `opts.run` on exactly one node at a time: the holder of one lease (the node wires it to
 * shard 0's lease, which the runtime keeps single-owner and fenced). Every run re-checks the lease
 * first, so a deposed holder stops by itself; runs never overlap on one node. `metrics` is the
 * caller's object (it may carry more counters).
 */
export const makeElectedJob = <M extends ElectedJobMetrics>(metrics: M, opts: ElectedJobOptions): ElectedJob<M> => {
  const clock = opts.clock ?? systemClock
  let fence: (() => Promise<boolean>) | undefined
  let timer: Cancel | undefined
  let running = false
  let stopped = false

  const schedule = (ms: number) => {
    timer?.()
    timer = clock.after(ms, () => { timer = undefined; void run() })
  }
  const run = async () => {
    const f = fence
    if (!f || stopped || running) return
    running = true
    try {
      if (!(await f())) {
        metrics.notOwner++
        if (fence === f) fence = undefined
        return
      }
      metrics.runs++
      await opts.run(clock.now())
    } catch (e) {
      metrics.errors++
      opts.onError?.(e)
    } finally {
      running = false
      if (fence && !stopped) schedule(opts.everyMs)
    }
  }

  return {
    metrics,
    hold(f) {
      if (stopped) return
      fence = f
      if (!running) schedule(0)
    },
    stop() {
      stopped = true
      fence = undefined
      timer?.()
    },
  }
}
