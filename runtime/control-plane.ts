import { fromRequester } from "./nats/guard.ts"
import type { Bus } from "./nats/ports.ts"
import type { EventLog } from "./shard-host.ts"
import { DrainAnswer, NodeStats, StatsRequest } from "./wire.ts"

/** What the control plane asks of its node. */
export interface ControlPlaneDeps {
  readonly bus: Bus
  readonly id: string
  readonly log: EventLog
  /** Another node released a shard: reconcile now rather than at the next timer. */
  readonly onReleased: () => void
  /** The node's stats (`ops cluster`); `gc` collects garbage first (ops bench scale). */
  readonly stats: (gc: boolean) => Promise<NodeStats>
  /** How many shards the node holds (the drain answer). */
  readonly shardCount: () => number
  /** `ops drain <node>`: planned leave. */
  readonly drain: () => void
}

/** Does a stats request ask for a garbage collection first (`{"gc":true}`)? Empty: no. Anything else is a WireDecodeError. */
export const wantsGc = (data: Uint8Array): boolean => data.length > 0 && StatsRequest.fromJson(data).gc === true

/**
 * The node's side of `akis.ctl.*`: `released.<shard>` (a shard is free: reconcile), `stats.<node>`
 * (`ops cluster`), `drain.<node>` (`ops drain`). Requests delivered by a consumer rather than
 * asked by a client are ignored (guard.ts). Returns the unsubscriber.
 */
export const serveControlPlane = (d: ControlPlaneDeps): (() => void) => {
  const statsSubject = `akis.ctl.stats.${d.id}`
  const drainSubject = `akis.ctl.drain.${d.id}`
  const subs = [
    d.bus.subscribe("akis.ctl.released.*", (m) => {
      if (fromRequester(m, /^akis\.ctl\.released\.\d+$/, false)) d.onReleased()
    }),
    d.bus.subscribe(statsSubject, (m) => {
      if (!fromRequester(m, statsSubject)) return
      // `{"gc":true}` (ops bench scale) collects garbage first, so `memory.heapUsed` is live data only.
      let gc = false
      try {
        gc = wantsGc(m.data)
      } catch (e) {
        d.log("ctl.bad_request", { subject: m.subject, reason: String((e as Error).message) }) // answered with plain stats
      }
      void d.stats(gc).then((s) => m.respond(NodeStats.toBytes(s)))
    }),
    d.bus.subscribe(drainSubject, (m) => {
      if (!fromRequester(m, drainSubject)) return d.log("ctl.refused", { subject: m.subject, reply: m.reply ?? null })
      m.respond(DrainAnswer.toBytes({ ok: true, node: d.id, shards: d.shardCount() }))
      d.drain()
    }),
  ]
  return () => {
    for (const s of subs) s.unsubscribe()
  }
}

/** Tells the other nodes that `shard` is free (its new owner picks it up at once). */
export const announceRelease = (bus: Bus, shard: number): void => bus.publish(`akis.ctl.released.${shard}`)
