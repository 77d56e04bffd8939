import { type Clock, systemClock } from "../../runtime/clock.ts"
import type { AlertTransition } from "../../runtime/alert.ts"
import { deadLetterMessage } from "../../runtime/nats/dead-letters.ts"
import type { AckableMsg, NatsPorts, Setup } from "../../runtime/nats/ports.ts"
import { retry } from "../../runtime/retry.ts"
import { definition, names, type StreamDef, type TopologyOptions } from "../../runtime/nats/topology.ts"
import { parseExplanation, type Explanation } from "../interpreter/annotation.ts"
import { classifyAlertMessage, writeAlerts } from "./alerts.ts"
import { storeErrorTag } from "./errors.ts"
import { writeExplanations } from "./explanations.ts"
import type { Store } from "./store.ts"

/** The alerts stream (the row in runtime/nats/topology.ts). */
export const alertsStream = { name: names.alerts, subjects: (definition(names.alerts) as StreamDef).subjects } as const

/** Checks AKIS_ALERTS against the configuration (topology module): created when missing, refused when it contradicts. */
export const ensureAlertsStream = (setup: Setup, o: TopologyOptions): Promise<void> => setup.ensure([names.alerts], o)

/** Options of {@link startAlertWriter}. */
export interface AlertWriterOptions {
  /** NATS as ports (runtime/nats natsPorts, or the in-memory twin). */
  readonly nats: NatsPorts
  readonly store: Store
  /** Durable pull consumer name (config `sink.alertsConsumer`). */
  readonly consumer: string
  /** Stream settings (config streams.*): AKIS_ALERTS, AKIS_DLQ and the durable come from the topology table. */
  readonly topology: TopologyOptions
  readonly batch?: number | undefined
  readonly retryMinMs?: number | undefined
  readonly retryMaxMs?: number | undefined
  /** Time and timers (default: the system clock). */
  readonly clock?: Clock | undefined
  readonly onError?: ((e: unknown) => void) | undefined
  readonly onDeadLetter?: ((reason: string) => void) | undefined
}

/** Counters of the alert writer. */
export interface AlertWriterMetrics {
  stored: number
  /** The interpreter's explanations stored in `alert_explanations`. */
  explanations: number
  /** Messages on akis.alerts.> that are neither transitions nor explanations (acked, not stored). */
  skipped: number
  insertErrors: number
  /** Transitions copied to AKIS_DLQ: not storable (checked before insert, or refused by ClickHouse on their own). */
  deadLettered: number
}

/** A running alert writer. */
export interface AlertWriter {
  readonly metrics: Readonly<AlertWriterMetrics>
  stop(): Promise<void>
}

/**
 * Copies alert transitions from AKIS_ALERTS into ClickHouse `alerts`: a durable pull consumer,
 * each fetched batch inserted and then acked. A failed insert is retried with backoff before any
 * ack, so a crash re-delivers and the table's de-duplication absorbs the copy.
 */
export const startAlertWriter = async (o: AlertWriterOptions): Promise<AlertWriter> => {
  const clock = o.clock ?? systemClock
  const backoff = { initialMs: o.retryMinMs ?? 100, maxMs: o.retryMaxMs ?? 5000, jitter: 0 }
  // The stream, the dead-letter stream and the durable come from the topology table (ack wait, max ack pending).
  await o.nats.setup.ensure([names.alerts, names.deadLetters, "sinkAlerts"], { ...o.topology, alertsConsumer: o.consumer })
  const js = o.nats.js
  const consumer = await js.durableConsumer(alertsStream.name, o.consumer)
  const metrics: AlertWriterMetrics = { stored: 0, explanations: 0, skipped: 0, insertErrors: 0, deadLettered: 0 }
  /**
   * Inserts the batch; when ClickHouse refuses it for its content (not for being unreachable), each
   * transition is inserted alone, so one it cannot store is singled out instead of blocking all.
   */
  const store = async (ts: AlertTransition[], ms: AckableMsg[]): Promise<Array<{ m: AckableMsg; reason: string }>> => {
    try {
      await writeAlerts(o.store, ts, clock.now())
      return []
    } catch (e) {
      if (storeErrorTag(e) !== "StoreRefused" || ts.length === 0) throw e
    }
    const refused: Array<{ m: AckableMsg; reason: string }> = []
    for (let i = 0; i < ts.length; i++) {
      try {
        await writeAlerts(o.store, [ts[i]!], clock.now())
      } catch (e) {
        if (storeErrorTag(e) !== "StoreRefused") throw e
        refused.push({ m: ms[i]!, reason: `ClickHouse refused it: ${(e as Error).message.slice(0, 500)}` })
      }
    }
    return refused
  }
  const stopping = new AbortController()
  /** Waits `ms`; false when stopped meanwhile. */
  const pause = (ms: number) => clock.sleep(ms, stopping.signal).then(() => true, () => false)

  /** Stores one fetched batch, then acks it; false when stopped before it was stored. */
  const storeBatch = async (msgs: AckableMsg[]): Promise<boolean> => {
    const ts: AlertTransition[] = []
    const tsMsgs: AckableMsg[] = []
    const xs: Explanation[] = []
    const poison: Array<{ m: AckableMsg; reason: string }> = []
    for (const m of msgs) {
      const x = parseExplanation(m.data)
      const c = x ? undefined : classifyAlertMessage(m.data)
      if (x) xs.push(x)
      else if (c && "t" in c) { ts.push(c.t); tsMsgs.push(m) }
      else if (c && "invalid" in c) poison.push({ m, reason: c.invalid })
      else metrics.skipped++
    }
    const attempt = async (): Promise<void> => {
      try {
        const refused = await store(ts, tsMsgs)
        await writeExplanations(o.store, xs)
        // Dead letters before the acks: a crash in between redelivers, and the DLQ's msg ids absorb the copy.
        for (const p of [...poison, ...refused]) {
          const d = deadLetterMessage({ source: "alerts", reason: p.reason, subject: p.m.subject, stream: alertsStream.name, seq: p.m.seq, data: p.m.data }, clock.now())
          await js.publish(d.subject, d.data, { msgId: d.msgId, headers: d.headers })
          o.onDeadLetter?.(p.reason)
        }
        metrics.deadLettered += poison.length + refused.length
        metrics.stored += ts.length - refused.length
        metrics.explanations += xs.length
        poison.length = 0
      } catch (e) {
        metrics.insertErrors++
        o.onError?.(e)
        if (!stopping.signal.aborted) for (const m of msgs) m.working()
        throw e
      }
    }
    // Retried until stored (no jitter: one writer per node); stopping ends the waiting, unacked.
    const stored = await retry(attempt, { clock, backoff, signal: stopping.signal }).then(() => true, () => false)
    if (stored) for (const m of msgs) m.ack()
    return stored
  }

  const loop = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      const msgs: AckableMsg[] = []
      try {
        const it = await consumer.fetch({ maxMessages: o.batch ?? 1000, expiresMs: 1000 })
        for await (const m of it) msgs.push(m)
      } catch (e) {
        o.onError?.(e)
        await pause(500)
        continue
      }
      if (!(await storeBatch(msgs))) return
    }
  }
  const done = loop()
  return {
    metrics,
    async stop() {
      stopping.abort()
      await done
    },
  }
}
