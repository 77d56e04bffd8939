import { type Clock, systemClock } from "../../runtime/clock.ts"
import { retry } from "../../runtime/retry.ts"
import { createHash } from "node:crypto"
import type { AckableMsg, DurableConsumer, Kv, NatsPorts } from "../../runtime/nats/ports.ts"
import type { NotifyConfig } from "../../config/notify-schema.ts"
import type { AlertTransition } from "../../runtime/alert.ts"
import { logFirstOfEach } from "../../runtime/wire.ts"
import { parseTransition } from "../sink/index.ts"
import { makeChannels } from "./channels.ts"
import type { Channel } from "./channel.ts"
import {
  decide, decodeState, digestFlushed, emptyState, encodeStateWithin, forget, prune, type Decision, type NotifyPolicy, type NotifyState, type RuleFacts,
} from "./core.ts"
import { deliverWithRetry } from "./deliver.ts"
import { Digests, flushDigestsOnTime, type Digest } from "./digests.ts"
import { DeliveryFailed } from "./errors.ts"
import { deadLetter } from "./dead-letters.ts"
import { parseExplanation } from "../interpreter/annotation.ts"
import { startLease, type Lease } from "./lease.ts"
import type { Notification } from "./message.ts"
import type { TopologyOptions } from "../../runtime/nats/topology.ts"
import { ensureDlqStream, notifyDurable, notifyTopology, openNotifyBucket } from "./topology.ts"

/** Options of {@link startNotifier}. */
export interface NotifierOptions {
  /** NATS as ports (runtime/nats natsPorts, or the in-memory twin). */
  readonly nats: NatsPorts
  readonly config: NotifyConfig
  /** This node's id (lease holder name). */
  readonly nodeId: string
  readonly heartbeatMs: number
  readonly suspicionMs: number
  /** Stream settings (config streams.*): the dead-letter stream and the notifier bucket are rows of the topology table. */
  readonly topology: TopologyOptions
  /** What the live rule set says about a rule for a device (throttle, groups). */
  readonly facts: (rule: string, device: string) => RuleFacts | undefined
  /** Channels by name (default: built from `config.channels`). */
  readonly channels?: ReadonlyMap<string, Channel> | undefined
  /** Time and timers (default: the system clock). */
  readonly clock?: Clock | undefined
  /** Redelivery delay of a message whose node went silent. */
  readonly ackWaitMs?: number | undefined
  /** Stream messages fetched and not yet settled (the consumer's max_ack_pending). */
  readonly maxInFlight?: number | undefined
  /** The longest throttle in the live rule set: throttle marks older than this are forgotten (default 24 h). */
  readonly maxThrottleMs?: (() => number) | undefined
  readonly log?: ((event: string, fields: Record<string, unknown>) => void) | undefined
}

/** Counters of a notifier; every delivery, retry, dead letter and held message is counted. */
export interface NotifierMetrics {
  /** Alert transitions read from AKIS_ALERTS. */
  received: number
  /** Other messages on the stream (explanations counted apart), acked and skipped. */
  skipped: number
  explanations: number
  /** Notifications that reached their receiver (digests count once). */
  delivered: number
  /** Send attempts, failed attempts, and attempts beyond the first. */
  attempts: number
  failedAttempts: number
  retries: number
  deadLettered: number
  /** Deliveries found already done (a redelivery after a failover or restart): not sent again. */
  alreadyDelivered: number
  /** Transitions folded into digests, and digests sent. */
  digested: number
  digestsSent: number
  throttled: number
  capped: number
  filtered: number
  unknownChannel: number
  clearNotNotified: number
  stateWrites: number
  stateErrors: number
  /** Throttle marks left out of a persisted state that was too large for one KV value. */
  stateTrimmed: number
  fetchErrors: number
  /** Times this node became the active notifier. */
  takeovers: number
}

/** A running notifier (active or standing by). */
export interface Notifier {
  readonly metrics: Readonly<NotifierMetrics>
  /** True while this node holds the lease and consumes. */
  readonly active: boolean
  stop(): Promise<void>
}

const stateKey = "state"
const decoder = new TextDecoder()
/** Thrown inside a retried write once this node is no longer the active notifier: stops the retrying. */
const notLive = Symbol("not live")
/** Largest persisted state: NATS's default max_payload is 1 MiB. */
const maxStateBytes = 900_000
const leaseKey = "leader"
/** KV key of a delivery's done mark (keys hold only token-safe characters, so the delivery key is hashed). */
export const doneKeyOf = (deliveryKey: string): string => `sent.${createHash("sha256").update(deliveryKey).digest("hex").slice(0, 40)}`

/** The core's policy from config `notify`. */
export const policyOf = (c: NotifyConfig, rememberMs = 3_600_000): NotifyPolicy => ({
  routes: new Map(Object.entries(c.channels).map(([name, ch]) => [name, { name, severities: ch.severities, groups: ch.groups }])),
  digestWindowMs: c.digestWindowMs, digestThreshold: c.digestThreshold, cap: c.cap, capByRule: c.capByRule, rememberMs,
})

interface Pending {
  readonly msg: AckableMsg
  readonly t: AlertTransition
  /** Decisions still being delivered. */
  open: number
}

/**
 * Delivers alert transitions from AKIS_ALERTS to the channels the rules name (node role
 * `notifier`). One node at a time is active (KV lease); it decides with the pure core
 * (throttle, caps, digests), writes the core state to KV before delivering, delivers with
 * retries and backoff (at-least-once, idempotency key per delivery), marks each delivery done in
 * KV, dead-letters what keeps failing (stream AKIS_DLQ), and acks a stream message only when every
 * delivery of it is settled. A node that takes over reloads the state, so redelivered messages
 * get the decisions they had, and done marks keep what a receiver acknowledged from going twice.
 */
export const startNotifier = async (o: NotifierOptions): Promise<Notifier> => {
  const clock = o.clock ?? systemClock
  const now = () => clock.now()
  const log = o.log ?? (() => {})
  // A malformed message is counted as skipped; the first of each kind is logged with the reason.
  const dropped = logFirstOfEach((kind, reason) => log("notify.malformed", { kind, reason }))
  const cfg = o.config
  const policy = policyOf(cfg)
  const ackWaitMs = o.ackWaitMs ?? 10_000
  const maxInFlight = o.maxInFlight ?? 1_000
  const channels = o.channels ?? makeChannels(cfg, now)
  const kv: Kv = await openNotifyBucket(o.nats.setup, cfg.bucket, o.topology)
  await ensureDlqStream(o.nats.setup, o.topology)
  // A new consumer starts an hour back: alerts raised while no notifier ran yet still go out, not the stream's weeks of history.
  await o.nats.setup.ensureDurable(notifyTopology.alertsStream, notifyDurable(cfg.consumer, ackWaitMs, maxInFlight, now() - 3_600_000))
  const js = o.nats.js
  const metrics: NotifierMetrics = {
    received: 0, skipped: 0, explanations: 0, delivered: 0, attempts: 0, failedAttempts: 0, retries: 0, deadLettered: 0, alreadyDelivered: 0,
    digested: 0, digestsSent: 0, throttled: 0, capped: 0, filtered: 0, unknownChannel: 0, clearNotNotified: 0, stateWrites: 0, stateErrors: 0, stateTrimmed: 0,
    fetchErrors: 0, takeovers: 0,
  }
  const explanations = new Map<string, string>()
  let stopped = false
  let generation = 0
  let run: Promise<void> = Promise.resolve()
  const sleep = (ms: number) => clock.sleep(ms)

  // --- One term as the active notifier: from taking the lease until losing it or stopping. ---
  const term = async (gen: number): Promise<void> => {
    const live = () => !stopped && gen === generation
    const loaded = await kv.get(stateKey).catch(() => null)
    const state: NotifyState = (loaded && loaded.operation === "PUT" && decodeState(decoder.decode(loaded.value), (e) => log("notify.state_malformed", { reason: e.message }))) || emptyState()
    const consumer: DurableConsumer = await js.durableConsumer(notifyTopology.alertsStream, cfg.consumer)
    const inFlight = new Set<Pending>()
    const digests = new Digests<Pending>()
    const tasks = new Set<Promise<void>>()
    let slots = cfg.concurrency
    const waiters: Array<() => void> = []
    const acquire = async () => {
      while (slots === 0) await new Promise<void>((r) => waiters.push(r))
      slots--
    }
    const release = () => {
      slots++
      waiters.shift()?.()
    }
    let dirty = false

    const encoded = (): string => {
      prune(state, policy, now(), o.maxThrottleMs?.() ?? 86_400_000)
      const { json, trimmed } = encodeStateWithin(state, maxStateBytes)
      if (trimmed > 0) {
        metrics.stateTrimmed += trimmed
        log("notify.state_trimmed", { trimmed, bytes: json.length })
      }
      return json
    }

    const persist = async (): Promise<void> => {
      // Until written or no longer live (checked before every attempt: a deposed node must not write).
      await retry(async () => {
        if (!live()) throw notLive
        try {
          await kv.put(stateKey, encoded())
        } catch (e) {
          metrics.stateErrors++
          log("notify.state_error", { error: String(e) })
          throw e
        }
        metrics.stateWrites++
        dirty = false
      }, { clock, backoff: { initialMs: 100, maxMs: 2_000, jitter: 0 }, retryable: (e) => e !== notLive }).catch(() => {})
    }

    const settle = (p: Pending) => {
      if (--p.open > 0) return
      inFlight.delete(p)
      forget(state, p.t.id)
      dirty = true
      // Acked even after losing the lease: the delivery is settled, so nobody needs to see it again.
      p.msg.ack()
    }

    // One alert's transitions reach a channel in stream order (raised before escalated before
    // cleared): each waits for the delivery before it on the same alert and channel.
    const chains = new Map<string, Promise<void>>()
    const deliver = (n: Notification, members: ReadonlyArray<Pending>) => {
      const order = n.type === "digest" || members.length === 0 ? undefined : `${members[0]!.t.alertId}@${n.channel}`
      const before = order ? chains.get(order) : undefined
      const task = (async () => {
        if (before) await before
        await acquire()
        let aborted = false
        try {
          const channel = channels.get(n.channel)
          const doneKey = doneKeyOf(n.key)
          const done = await kv.get(doneKey).catch(() => null)
          if (done && done.operation === "PUT") {
            metrics.alreadyDelivered++
          } else {
            // A channel removed from config after the decision was made: a dead letter, not a silent loss.
            const out = channel ? await deliverWithRetry(channel, n, cfg, clock, (attempt, e) => {
              metrics.attempts++
              metrics.failedAttempts++
              if (attempt < cfg.maxAttempts && !e.permanent) metrics.retries++
              log("notify.attempt_failed", { key: n.key, channel: n.channel, attempt, permanent: e.permanent, error: e.message })
            }, live) : { ok: false as const, attempts: 0, error: new DeliveryFailed({ channel: n.channel, message: `channel ${n.channel} is not configured`, permanent: true }) }
            if (!out.ok && out.aborted) {
              // Stopping or deposed mid-retry: no ack, so the next active notifier delivers it.
              aborted = true
              return
            }
            if (out.ok) {
              metrics.attempts++
              metrics.delivered++
              if (n.type === "digest") metrics.digestsSent++
            } else {
              // The dead letter must be stored before the message may be acked.
              const stored = await retry(() => deadLetter(js, n, out.attempts, out.error.message, now()).catch((e) => {
                log("notify.dead_letter_error", { key: n.key, error: String(e) })
                throw e
              }), { clock, backoff: { initialMs: 200, maxMs: 5_000, jitter: 0 }, retryable: live }).then(() => true, () => false)
              if (!stored) {
                aborted = true
                return
              }
              metrics.deadLettered++
              log("notify.dead_letter", { key: n.key, channel: n.channel, attempts: out.attempts, error: out.error.message })
            }
            // The done mark lets a later owner skip what the receiver already acknowledged.
            await retry(() => kv.put(doneKey, out.ok ? "delivered" : "dead"), { clock, backoff: { initialMs: 200, maxMs: 200, jitter: 0 }, maxAttempts: 5 }).catch(() => {})
          }
        } finally {
          release()
          if (!aborted) for (const m of members) settle(m)
        }
      })().catch((e) => log("notify.error", { key: n.key, error: String(e) }))
      tasks.add(task)
      if (order) chains.set(order, task)
      void task.finally(() => {
        tasks.delete(task)
        if (order && chains.get(order) === task) chains.delete(order)
      })
    }

    const sendDigest = (d: Digest<Pending>) => {
      digestFlushed(state, d.key)
      dirty = true
      deliver({ type: "digest", key: d.key, channel: d.channel, transitions: d.members.map((m) => m.t) }, d.members)
    }

    // Keeps fetched messages alive while they wait in a digest or for a retry.
    const stopKeepAlive = clock.every(Math.max(100, Math.floor(ackWaitMs / 3)), () => {
      for (const p of inFlight) p.msg.working()
    })
    const stopFlusher = flushDigestsOnTime(clock, digests, live, sendDigest)

    try {
      while (live()) {
        if (inFlight.size >= maxInFlight) {
          await sleep(50)
          continue
        }
        const msgs: AckableMsg[] = []
        try {
          const it = await consumer.fetch({ maxMessages: Math.min(100, maxInFlight - inFlight.size), expiresMs: 1_000 })
          for await (const m of it) msgs.push(m)
        } catch (e) {
          metrics.fetchErrors++
          log("notify.fetch_error", { error: String(e) })
          await sleep(500)
          continue
        }
        const batch: Array<{ p: Pending; decisions: ReadonlyArray<Decision> }> = []
        for (const m of msgs) {
          const t = parseTransition(m.data, (reason) => dropped("alert transition", reason))
          if (!t) {
            const x = parseExplanation(m.data, (e) => dropped("explanation", e.message))
            if (x) {
              metrics.explanations++
              explanations.set(x.alertId, x.text)
              if (explanations.size > 1_000) explanations.delete(explanations.keys().next().value!)
            } else metrics.skipped++
            m.ack()
            continue
          }
          metrics.received++
          const decisions = decide(state, t, o.facts(t.rule, t.device), policy, now())
          batch.push({ p: { msg: m, t, open: 0 }, decisions })
        }
        if (batch.length === 0 && !dirty) continue
        // Decisions are durable before anything is sent: a node taking over decides the same.
        await persist()
        if (!live()) break
        for (const { p, decisions } of batch) {
          inFlight.add(p)
          p.open = 1 // held until every decision below is started
          for (const d of decisions) {
            if (d.action === "held") {
              const r = d.reason
              if (r === "throttled") metrics.throttled++
              else if (r === "capped") metrics.capped++
              else if (r === "filtered") metrics.filtered++
              else if (r === "unknown_channel") metrics.unknownChannel++
              else metrics.clearNotNotified++
              continue
            }
            p.open++
            if (d.action === "send") {
              deliver({ type: "alert", key: d.key, channel: d.channel, transition: p.t, explanation: explanations.get(p.t.alertId) }, [p])
            } else {
              metrics.digested++
              digests.add(d.key, d.channel, p, now(), cfg.digestWindowMs)
            }
          }
          settle(p)
        }
      }
    } finally {
      stopFlusher()
      if (stopped && gen === generation) {
        // A planned stop sends what waits in digests rather than leave it to the redelivery delay.
        for (const d of digests.take(now(), true)) sendDigest(d)
      }
      await Promise.allSettled([...tasks])
      stopKeepAlive()
      if (dirty) {
        await kv.put(stateKey, encoded()).then(() => metrics.stateWrites++, () => metrics.stateErrors++)
      }
    }
  }

  const lease: Lease = startLease({
    kv, key: leaseKey, holder: o.nodeId, heartbeatMs: o.heartbeatMs, suspicionMs: o.suspicionMs, clock,
    onError: (e) => log("notify.lease_error", { error: String(e) }),
    onChange(leader) {
      generation++
      log(leader ? "notify.active" : "notify.standby", { node: o.nodeId })
      if (!leader) return
      metrics.takeovers++
      const gen = generation
      // A term that fails to start (NATS away while loading the state) is retried while the lease is ours.
      const ours = () => !stopped && gen === generation
      run = run.then(() => retry(async () => {
        if (!ours()) return
        await term(gen).catch((e) => {
          log("notify.error", { error: String(e) })
          throw e
        })
      }, { clock, backoff: { initialMs: 1_000, maxMs: 1_000, jitter: 0 }, retryable: ours }).catch(() => {}))
    },
  })

  return {
    metrics,
    get active() {
      return lease.held
    },
    async stop() {
      stopped = true
      await run
      await lease.stop()
      for (const c of new Set(channels.values())) await c.close().catch(() => {})
    },
  }
}
