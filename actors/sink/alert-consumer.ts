import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/transport-node"
import { publishDeadLetter, type AlertTransition } from "../../runtime/index.ts"
import { classifyAlertMessage, writeAlerts } from "./alerts.ts"
import { StoreError } from "./errors.ts"
import { systemTimers, type Timers } from "./internal/system-timers.ts"
import type { Store } from "./store.ts"

/** The alerts stream (DESIGN "Coordination on JetStream"). */
export const alertsStream = { name: "AKIS_ALERTS", subjects: ["akis.alerts.>"] } as const

/** Creates AKIS_ALERTS if it is missing (file storage, `maxAgeHours`); an existing stream is left as it is. */
export const ensureAlertsStream = async (nc: NatsConnection, maxAgeHours: number, replicas = 1): Promise<void> => {
  const jsm = await jetstreamManager(nc)
  try {
    await jsm.streams.info(alertsStream.name)
  } catch {
    try {
      await jsm.streams.add({
        name: alertsStream.name, subjects: [...alertsStream.subjects], max_age: maxAgeHours * 3600 * 1e9, num_replicas: replicas,
      })
    } catch (e) {
      // Another node created it between our info and add: fine, otherwise re-raise.
      await jsm.streams.info(alertsStream.name).catch(() => Promise.reject(e))
    }
  }
}

/** Options of {@link startAlertWriter}. */
export interface AlertWriterOptions {
  readonly nc: NatsConnection
  readonly store: Store
  /** Durable pull consumer name (config `sink.alertsConsumer`). */
  readonly consumer: string
  readonly maxAgeHours: number
  readonly batch?: number | undefined
  readonly retryMinMs?: number | undefined
  readonly retryMaxMs?: number | undefined
  readonly timers?: Timers | undefined
  readonly onError?: ((e: unknown) => void) | undefined
  readonly onDeadLetter?: ((reason: string) => void) | undefined
}

/** Counters of the alert writer. */
export interface AlertWriterMetrics {
  stored: number
  /** Messages on akis.alerts.> that are not transitions (acked, not stored). */
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
  const timers = o.timers ?? systemTimers
  await ensureAlertsStream(o.nc, o.maxAgeHours)
  const jsm = await jetstreamManager(o.nc)
  // A batch fetched by a node that then dies is redelivered after ack_wait: keep it short (alerts
  // reach ClickHouse 10 s late at worst, not 60 s); a live writer retrying an insert extends it
  // with in-progress acks, and a redelivered batch is harmless (the table de-duplicates by id).
  const ackWait = 10 * 1e9
  try {
    const info = await jsm.consumers.info(alertsStream.name, o.consumer)
    if (info.config.ack_wait !== ackWait) await jsm.consumers.update(alertsStream.name, o.consumer, { ack_wait: ackWait }).catch(() => {})
  } catch {
    await jsm.consumers.add(alertsStream.name, {
      durable_name: o.consumer, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_ack_pending: 10_000,
      ack_wait: ackWait,
    })
  }
  const js = jetstream(o.nc)
  const consumer = await js.consumers.get(alertsStream.name, o.consumer)
  const metrics: AlertWriterMetrics = { stored: 0, skipped: 0, insertErrors: 0, deadLettered: 0 }
  /**
   * Inserts the batch; when ClickHouse refuses it for its content (not for being unreachable), each
   * transition is inserted alone, so one it cannot store is singled out instead of blocking all.
   */
  const store = async (ts: AlertTransition[], ms: JsMsg[]): Promise<Array<{ m: JsMsg; reason: string }>> => {
    try {
      await writeAlerts(o.store, ts, timers.now())
      return []
    } catch (e) {
      if (!(e instanceof StoreError) || e.retryable || ts.length === 0) throw e
    }
    const refused: Array<{ m: JsMsg; reason: string }> = []
    for (let i = 0; i < ts.length; i++) {
      try {
        await writeAlerts(o.store, [ts[i]!], timers.now())
      } catch (e) {
        if (!(e instanceof StoreError) || e.retryable) throw e
        refused.push({ m: ms[i]!, reason: `ClickHouse refused it: ${e.message.slice(0, 500)}` })
      }
    }
    return refused
  }
  let stopped = false
  let wake: (() => void) | undefined
  const sleep = (ms: number) => new Promise<void>((r) => {
    wake = r
    timers.setTimeout(r, ms)
  })

  const loop = async (): Promise<void> => {
    let attempt = 0
    while (!stopped) {
      const msgs: JsMsg[] = []
      try {
        const it = await consumer.fetch({ max_messages: o.batch ?? 1000, expires: 1000 })
        for await (const m of it) msgs.push(m)
      } catch (e) {
        o.onError?.(e)
        await sleep(500)
        continue
      }
      const ts: AlertTransition[] = []
      const tsMsgs: JsMsg[] = []
      const poison: Array<{ m: JsMsg; reason: string }> = []
      for (const m of msgs) {
        const c = classifyAlertMessage(m.data)
        if ("t" in c) { ts.push(c.t); tsMsgs.push(m) }
        else if ("invalid" in c) poison.push({ m, reason: c.invalid })
        else metrics.skipped++
      }
      for (;;) {
        try {
          const refused = await store(ts, tsMsgs)
          // Dead letters before the acks: a crash in between redelivers, and the DLQ's msg ids absorb the copy.
          for (const p of [...poison, ...refused]) {
            await publishDeadLetter(js, { source: "alerts", reason: p.reason, subject: p.m.subject, stream: alertsStream.name, seq: p.m.seq, data: p.m.data }, timers.now())
            o.onDeadLetter?.(p.reason)
          }
          metrics.deadLettered += poison.length + refused.length
          metrics.stored += ts.length - refused.length
          poison.length = 0
          attempt = 0
          for (const m of msgs) m.ack()
          break
        } catch (e) {
          metrics.insertErrors++
          o.onError?.(e)
          if (stopped) return
          for (const m of msgs) m.working()
          await sleep(Math.min(o.retryMaxMs ?? 5000, (o.retryMinMs ?? 100) * 2 ** Math.min(attempt++, 20)))
        }
      }
    }
  }
  const done = loop()
  return {
    metrics,
    async stop() {
      stopped = true
      wake?.()
      await done
    },
  }
}
