/**
 * Heartbeats written from a thread of their own (a Bun Worker with its own NATS connection), so
 * that a node whose event loop is starved of CPU or briefly blocked still heartbeats on time and
 * does not pause its shards for nothing (issue 15: in a reconnect storm of 100k devices on two cores
 * the worker's heartbeats, written from its event loop, came late 477 times; each time it held
 * every shard until the next one got through).
 *
 * The thread is not a way around liveness: it beats only while the event loop has turned within
 * `watchdogMs` (the loop stamps a shared clock cell every 250 ms), so a hung loop stops the
 * heartbeats and the others take its shards after the suspicion time as before. Health is read
 * the same way as for {@link inlineHeartbeats}: from when the newest *stored* heartbeat was sent,
 * kept in shared memory by the thread.
 *
 * The thread reads the real clock: use it with {@link systemClock} only (tests of timing logic
 * use inline heartbeats on a test clock).
 */
import type { Clock } from "../clock.ts"
import type { Heartbeats, MemberSelf, MembershipOptions } from "../membership.ts"
import type { NatsAuthConfig } from "./auth.ts"

/** Plain data (it is copied to the thread): where and as whom the thread connects. */
export interface HeartbeatThreadOptions {
  readonly servers: ReadonlyArray<string>
  readonly user?: string
  readonly pass?: string
  /** The nats section of the config; the thread builds the node role's credentials from it. */
  readonly auth?: NatsAuthConfig
  /** Connection name (shown by `nats server report connections`). */
  readonly name: string
  /** The KV bucket of members (`akis_members`). */
  readonly bucket: string
  /** Heartbeats stop once the node's event loop has not turned for this long. */
  readonly watchdogMs: number
}

/** Messages from the node to its heartbeat thread. */
export type ToThread =
  | { readonly type: "start"; readonly options: HeartbeatThreadOptions; readonly self: MemberSelf; readonly draining: boolean; readonly heartbeatMs: number; readonly cells: SharedArrayBuffer }
  | { readonly type: "drain" }
  | { readonly type: "stop" }

/** Messages from the thread: a request done (`error` when starting failed), or heartbeats withheld for a stalled loop. */
export type FromThread =
  | { readonly type: "done"; readonly request: ToThread["type"]; readonly error?: string }
  | { readonly type: "withheld"; readonly loopSilentMs: number }

/** The shared cells (BigInt64, epoch ms): the loop's last turn, and when the newest stored heartbeat was sent. */
export const cell = { loopAt: 0, lastOk: 1 } as const
export const cellCount = 2

/** What the node hears from its heartbeat thread, and how the thread is made. */
export interface HeartbeatThreadHooks {
  /** The thread held heartbeats back because the loop had not turned for `loopSilentMs` (heard late, on the loop). */
  readonly onWithheld: (loopSilentMs: number) => void
  /** The thread ended by itself (an uncaught error in it) and is started again. */
  readonly onRestart: (reason: string) => void
  /** Starts the thread from its module URL (default `new Worker`; a test keeps a hand on it). */
  readonly spawn?: (url: string) => Worker
}

const workerUrl = new URL("./heartbeat-worker.ts", import.meta.url).href
const restartBackoffMs = 1_000

/**
 * Heartbeats on their own thread. A thread that ends by itself is started again (same shared
 * cells, so health goes on counting from the last stored heartbeat), once a second until it runs.
 */
export const heartbeatThread = (o: HeartbeatThreadOptions, clock: Clock, hooks: HeartbeatThreadHooks) =>
  (self: MemberSelf, opts: MembershipOptions): Heartbeats => {
    const cells = new BigInt64Array(new SharedArrayBuffer(cellCount * 8))
    const stamp = () => Atomics.store(cells, cell.loopAt, BigInt(clock.now()))
    stamp()
    Atomics.store(cells, cell.lastOk, BigInt(clock.now()))
    const spawn = hooks.spawn ?? ((url: string) => new Worker(url))
    /** The running thread; undefined once stopped (or while one is being started again). */
    let worker: Worker | undefined
    let stopped = false
    let draining = false
    let withheld = 0
    let stopLoopStamp: (() => void) | undefined
    const waiting = new Map<ToThread["type"], { resolve: () => void; reject: (e: Error) => void }>()
    const ask = (w: Worker, m: ToThread) =>
      new Promise<void>((resolve, reject) => {
        waiting.set(m.type, { resolve, reject })
        w.postMessage(m)
      })
    const failWaiting = (why: string) => {
      for (const w of waiting.values()) w.reject(new Error(`heartbeat thread: ${why}`))
      waiting.clear()
    }
    /** Starts a thread and its first heartbeat; rejects (the thread ended) when it could not. */
    const launch = async (): Promise<void> => {
      const w = (worker = spawn(workerUrl))
      w.onmessage = (e: MessageEvent<FromThread>) => {
        const m = e.data
        if (m.type === "withheld") {
          withheld++
          return hooks.onWithheld(m.loopSilentMs)
        }
        const p = waiting.get(m.request)
        waiting.delete(m.request)
        if (m.error) p?.reject(new Error(m.error))
        else p?.resolve()
      }
      w.onerror = (e) => failWaiting(e.message)
      w.addEventListener("close", () => {
        if (worker !== w) return // stopped, or given up on at start
        worker = undefined
        failWaiting("it ended")
        void restart("the heartbeat thread ended")
      })
      try {
        await ask(w, { type: "start", options: o, self, draining, heartbeatMs: opts.heartbeatMs, cells: cells.buffer as SharedArrayBuffer })
      } catch (e) {
        if (worker === w) worker = undefined
        w.terminate()
        throw e
      }
    }
    const restart = async (reason: string): Promise<void> => {
      hooks.onRestart(reason)
      while (!stopped && worker === undefined) {
        try {
          await launch()
        } catch (e) {
          hooks.onRestart(`starting it again failed: ${String(e)}`)
          await clock.sleep(restartBackoffMs)
        }
      }
    }
    return {
      async start() {
        stopLoopStamp = clock.every(250, stamp)
        try {
          await launch()
        } catch (e) {
          stopLoopStamp()
          throw e
        }
      },
      async drain() {
        draining = true
        if (worker) await ask(worker, { type: "drain" })
      },
      lastOk: () => Number(Atomics.load(cells, cell.lastOk)),
      withheld: () => withheld,
      async stop() {
        stopped = true
        stopLoopStamp?.()
        const w = worker
        worker = undefined
        if (!w) return
        // The thread closes its connection; a thread that does not answer is ended all the same.
        await Promise.race([ask(w, { type: "stop" }).catch(() => {}), clock.sleep(2_000)])
        w.terminate()
      },
    }
  }
