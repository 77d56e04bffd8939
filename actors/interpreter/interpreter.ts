import { type Clock, systemClock } from "../../runtime/clock.ts"
import type { AckableMsg, NatsPorts } from "../../runtime/nats/ports.ts"
import type { InterpreterConfig } from "../../config/notify-schema.ts"
import { notifyDurable, notifyTopology } from "../notifier/topology.ts"
import { ExplanationMessage, logFirstOfEach } from "../../runtime/wire.ts"
import { parseTransition } from "../sink/index.ts"
import type { Explanation } from "./annotation.ts"
import { Breaker, Lru } from "./breaker.ts"
import type { Model } from "./ollama-model.ts"
import { buildPrompt, situationKey, type Situation } from "./prompt.ts"

/** Where the interpreter gets a situation's context (each may fail or time out: it is left out). */
export interface ContextSources {
  /** The rule's description from the live rule set. */
  readonly description: (rule: string) => string
  /** The device actor's window state (through the RPC router). */
  readonly windows: (device: string) => Promise<Record<string, Record<string, number | null>> | undefined>
  /** A few lines of recent history (ClickHouse). */
  readonly history: (device: string, at: number) => Promise<ReadonlyArray<string>>
}

/** Options of {@link startInterpreter}. */
export interface InterpreterOptions {
  /** NATS as ports (runtime/nats natsPorts, or the in-memory twin). */
  readonly nats: NatsPorts
  readonly config: InterpreterConfig
  readonly model: Model
  readonly context: ContextSources
  /** Time and timers (default: the system clock). */
  readonly clock?: Clock | undefined
  /** Time allowed for the context sources together. */
  readonly contextTimeoutMs?: number | undefined
  readonly log?: ((event: string, fields: Record<string, unknown>) => void) | undefined
}

/** Counters of the interpreter: everything not explained is counted by why. */
export interface InterpreterMetrics {
  /** Raised or escalated transitions taken up. */
  considered: number
  /** Cleared transitions and other messages (acked, nothing to explain). */
  skipped: number
  explained: number
  cacheHits: number
  /** Model calls that failed, by reason. */
  timeouts: number
  failures: number
  malformed: number
  /** Dropped without asking: the breaker was open, or the alert was older than maxAgeMs. */
  droppedBreakerOpen: number
  droppedStale: number
  publishErrors: number
  /** Times the breaker opened. */
  breakerOpened: number
}

/** A running interpreter. */
export interface Interpreter {
  readonly metrics: Readonly<InterpreterMetrics>
  stop(): Promise<void>
}

const withTimeout = <T>(clock: Clock, p: Promise<T>, ms: number, fallback: T): Promise<T> => {
  let cancel = () => {}
  const late = new Promise<T>((r) => (cancel = clock.after(ms, () => r(fallback))))
  return Promise.race([p.catch(() => fallback), late]).finally(cancel)
}

/**
 * Explains raised and escalated alerts with a language model, off the reading path: a durable
 * consumer of AKIS_ALERTS (its max_ack_pending = `maxBacklog` bounds the backlog), at most
 * `maxConcurrent` model calls, a breaker after `breakerFailures` consecutive failures, a cache
 * for identical situations. The explanation is published on `akis.alerts.explanation.<device>`
 * (msg id `explain:<transition id>`), which the sink stores and notifiers and the API read.
 * Whatever cannot be explained (model down, slow, breaker open, too old) is acked and counted:
 * the alert itself has long gone out without it.
 */
export const startInterpreter = async (o: InterpreterOptions): Promise<Interpreter> => {
  const cfg = o.config
  const clock = o.clock ?? systemClock
  const now = () => clock.now()
  const log = o.log ?? (() => {})
  // A malformed transition is counted as skipped; the first of its kind is logged with the reason.
  const dropped = logFirstOfEach((kind, reason) => log("interpreter.malformed", { kind, reason }))
  const contextTimeoutMs = o.contextTimeoutMs ?? 3_000
  await o.nats.setup.ensureDurable(notifyTopology.alertsStream, notifyDurable(cfg.consumer, Math.max(30_000, cfg.timeoutMs * 2), cfg.maxBacklog, now() - cfg.maxAgeMs))
  const js = o.nats.js
  const consumer = await js.durableConsumer(notifyTopology.alertsStream, cfg.consumer)
  const metrics: InterpreterMetrics = {
    considered: 0, skipped: 0, explained: 0, cacheHits: 0, timeouts: 0, failures: 0, malformed: 0, droppedBreakerOpen: 0, droppedStale: 0,
    publishErrors: 0, breakerOpened: 0,
  }
  const breaker = new Breaker(cfg.breakerFailures, cfg.breakerCooldownMs)
  const cache = new Lru<string>(cfg.cacheSize)
  const queue: Array<{ msg: AckableMsg; t: NonNullable<ReturnType<typeof parseTransition>> }> = []
  let active = 0
  let stopped = false
  const running = new Set<Promise<void>>()
  const sleep = (ms: number) => clock.sleep(ms)

  const publish = async (t: Situation["transition"], text: string, latencyMs: number, cached: boolean) => {
    const x: Explanation = {
      kind: "explanation", transitionId: t.id, alertId: t.alertId, device: t.device, rule: t.rule, at: t.at, model: o.model.name, text,
      createdAt: now(), latencyMs, cached,
    }
    await js.publish(notifyTopology.explanationSubject(t.device), ExplanationMessage.toBytes(x), { msgId: `explain:${t.id}` })
  }

  const work = async (job: (typeof queue)[number]): Promise<void> => {
    const { msg, t } = job
    try {
      if (now() - Math.max(t.recvAt, 0) > cfg.maxAgeMs && now() - t.at > cfg.maxAgeMs) {
        metrics.droppedStale++
        return
      }
      // Cache and breaker first: neither needs the context, so an open breaker costs no lookups.
      const key = situationKey(t)
      const hit = cache.get(key)
      if (hit !== undefined) {
        metrics.cacheHits++
        await publish(t, hit, 0, true)
        metrics.explained++
        return
      }
      if (!breaker.allow(now())) {
        metrics.droppedBreakerOpen++
        return
      }
      const [windows, history] = await Promise.all([
        withTimeout(clock, o.context.windows(t.device), contextTimeoutMs, undefined),
        withTimeout(clock, o.context.history(t.device, t.at), contextTimeoutMs, [] as ReadonlyArray<string>),
      ])
      const s: Situation = { transition: t, description: o.context.description(t.rule), windows, history }
      const started = now()
      try {
        const text = await o.model.explain(buildPrompt(s))
        breaker.success()
        cache.set(key, text)
        await publish(t, text, now() - started, false)
        metrics.explained++
      } catch (e) {
        const reason = (e as { reason?: string }).reason
        if (reason === "timeout") metrics.timeouts++
        else if (reason === "malformed") metrics.malformed++
        else if (reason !== undefined) metrics.failures++
        else metrics.publishErrors++
        if (reason !== undefined) {
          const before = breaker.opened
          breaker.failure(now())
          if (breaker.opened > before) {
            metrics.breakerOpened++
            log("interpreter.breaker_open", { cooldownMs: cfg.breakerCooldownMs, error: String((e as Error).message ?? e) })
          }
        }
      }
    } finally {
      // After stop the alert is left unacked for the next interpreter (the connection may be gone too).
      if (!stopped) {
        try {
          msg.ack()
        } catch {
          // connection closed: redelivered later
        }
      }
    }
  }

  const pump = () => {
    while (active < cfg.maxConcurrent && queue.length > 0) {
      const job = queue.shift()!
      active++
      const p = work(job).finally(() => {
        active--
        running.delete(p)
        pump()
      })
      running.add(p)
    }
  }

  const loop = async () => {
    while (!stopped) {
      const room = cfg.maxBacklog - queue.length - active
      if (room <= 0) {
        await sleep(50)
        continue
      }
      try {
        const it = await consumer.fetch({ maxMessages: room, expiresMs: 1_000 })
        for await (const m of it) {
          const t = parseTransition(m.data, (reason) => dropped("alert transition", reason))
          if (!t || t.kind === "cleared") {
            metrics.skipped++
            m.ack()
            continue
          }
          metrics.considered++
          queue.push({ msg: m, t })
          // Alerts waiting for the model stay fetched (not redelivered) while they queue.
          m.working()
        }
      } catch (e) {
        log("interpreter.fetch_error", { error: String(e) })
        await sleep(500)
      }
      pump()
    }
  }
  const stopKeepAlive = clock.every(10_000, () => {
    for (const j of queue) j.msg.working()
  })
  const done = loop()
  return {
    metrics,
    async stop() {
      stopped = true
      await done
      stopKeepAlive()
      queue.length = 0 // not acked: the next interpreter gets them again
      // A model call in flight may take timeoutMs: give it a moment, then leave its alert unacked too.
      await Promise.race([Promise.allSettled([...running]), clock.sleep(1_000)])
    },
  }
}
