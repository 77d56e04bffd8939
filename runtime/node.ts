import { hostname } from "node:os"
import type { ActorKind } from "./actor-kind.ts"
import { Checkpoints } from "./checkpoints.ts"
import { PartitionMismatch, TopologyConflict } from "./errors.ts"
import type { NatsAuth } from "./nats/auth.ts"
import { fromRequester } from "./nats/guard.ts"
import type { Clock } from "./clock.ts"
import { Leases, type Lease, type LeaseState } from "./leases.ts"
import { Membership } from "./membership.ts"
import { connectNats, type Nats } from "./nats/connection.ts"
import { checkPartitions, ensureBuckets, ensureStreams, names, type Buckets } from "./nats/topology.ts"
import { placeShards } from "./placement.ts"
import { ShardHost, type EventLog, type ShardHostOptions, type StopReason } from "./shard-host.ts"
import { noopSink, type SinkPort } from "./sink-port.ts"
import { DrainAnswer, NodeStats, StatsRequest } from "./wire.ts"

/** Settings of a node (from config). */
export interface NodeOptions {
  readonly id: string
  readonly roles: ReadonlyArray<string>
  readonly partitions: number
  readonly servers: ReadonlyArray<string>
  readonly user?: string
  readonly pass?: string
  /** Credentials, TLS and reply prefix (runtime/nats/auth.ts `natsAuth(config.nats, "node")`). */
  readonly auth?: NatsAuth
  readonly heartbeatMs: number
  readonly suspicionMs: number
  readonly replicas: number
  readonly telemetryMaxAgeHours: number
  readonly alertsMaxAgeHours: number
  readonly telemetryMaxMB?: number
  readonly alertsMaxMB?: number
  readonly alertsConsumer?: string
  readonly host: Omit<ShardHostOptions, "tickMs"> & { readonly tickMs?: number }
  readonly version?: string
}

/** What a node is given besides its settings. */
export interface NodeDeps {
  /** The actor kind that handles readings (device actor in production). */
  readonly kind: ActorKind<unknown>
  /** A sink per shard; default: none (nothing stored). */
  readonly sinkFor?: (shard: number, fence: () => Promise<boolean>) => SinkPort
  readonly clock: Clock
  readonly log: EventLog
}

/** A running node. */
export interface AkisNode {
  readonly id: string
  readonly nats: Nats
  readonly buckets: Buckets
  readonly membership: Membership
  /** Shards this node processes now. */
  hosted(): number[]
  hosts(): ReadonlyMap<number, ShardHost>
  /** Planned leave: hand every shard over, then stop. */
  drain(): Promise<void>
  /** Resolves once the node has stopped (after a drain requested with `ops drain`, too). */
  readonly stopped: Promise<void>
  /**
   * Stops processing (final checkpoint, no handover: others take the shards after the suspicion
   * timeout). With `leave`, the member key is deleted so others see the node gone at once.
   */
  stop(leave?: boolean): Promise<void>
}

/** Retries `fn` with back-off for up to `deadlineMs`; a PartitionMismatch is final at once. */
const retrying = async <T>(what: string, log: EventLog, fn: () => Promise<T>, deadlineMs = 60_000): Promise<T> => {
  const started = Date.now()
  for (let delay = 250; ; delay = Math.min(delay * 2, 4_000)) {
    try {
      return await fn()
    } catch (e) {
      if (e instanceof PartitionMismatch || e instanceof TopologyConflict || Date.now() - started > deadlineMs) throw e
      log("node.retry", { what, error: String(e), delayMs: delay })
      await Bun.sleep(delay)
    }
  }
}

/**
 * Starts a node: connects, checks P, heartbeats, and keeps reconciling the shards it should own
 * (placement over live workers) with the shards it holds, taking free or dead-owner leases and
 * handing over shards placement moved away.
 */
export const startNode = async (o: NodeOptions, d: NodeDeps): Promise<AkisNode> => {
  const id = o.id || `${hostname()}-${process.pid}`
  const nats = await connectNats({ servers: o.servers, user: o.user, pass: o.pass, auth: o.auth, name: `akis-${id}` })
  // A NATS cluster that is starting or electing leaders times out for a while: retry, then fail clearly.
  const buckets = await retrying("set up streams and buckets", d.log, async () => {
    await ensureStreams(nats.jsm, o, d.log)
    const b = await ensureBuckets(nats.kvm, o, d.log)
    await checkPartitions(b.config, o.partitions)
    return b
  })
  // Heartbeats and leases travel on a connection of their own: on the data connection their
  // acks queue behind megabytes of reading batches under load, and a heartbeat acked late makes
  // the node fence itself although it is alive (seen in the e2e bench at 20k readings/s).
  const control = await connectNats({ servers: o.servers, user: o.user, pass: o.pass, auth: o.auth, name: `akis-${id}-control` })
  const [membersKv, shardsKv] = await Promise.all([control.kvm.open(names.members), control.kvm.open(names.shards)])
  const membership = new Membership(
    membersKv,
    { id, roles: o.roles, version: o.version ?? "0.1.0", pid: process.pid, host: hostname(), startedAt: d.clock.now() },
    { heartbeatMs: o.heartbeatMs, suspicionMs: o.suspicionMs },
    d.clock,
  )
  const leases = new Leases(shardsKv, id, d.clock)
  const checkpoints = new Checkpoints(buckets.snapshots, { objects: buckets.snapshotObjects })
  const hosts = new Map<number, ShardHost>()
  const busy = new Set<number>() // shards with an acquire or a handoff under way
  let draining = false
  let stopped = false

  const hostOptions: ShardHostOptions = { tickMs: 1_000, ...o.host }

  // --- Reconcile: desired placement vs held shards; runs on membership change, release, timer ---
  let reconciling = false
  let again = false
  const reconcile = async (): Promise<void> => {
    if (reconciling) {
      again = true
      return
    }
    reconciling = true
    try {
      do {
        again = false
        await reconcileOnce()
      } while (again && !stopped)
    } finally {
      reconciling = false
    }
  }

  const reconcileOnce = async () => {
    if (stopped) return
    if (!membership.healthy()) {
      for (const s of [...hosts.keys()]) void stopHost(s, "fenced")
      return
    }
    const canWork = o.roles.includes("worker") && !draining
    const desired = placeShards(membership.workers(), o.partitions)
    const states = await leases.readAll(o.partitions).catch(() => undefined)
    if (!states) return
    const work: Promise<void>[] = []
    for (let s = 0; s < o.partitions; s++) {
      if (busy.has(s)) continue
      const state = states[s]!
      const held = hosts.get(s)
      if (held) {
        // A host that stopped by itself (unhealthy for a while, lease lost) is replaced: once the
        // node is healthy again it takes the shard anew (new epoch) from the last checkpoint.
        if (held.ended) work.push(stopHost(s, "fenced").then(() => void (again = true)))
        else if (state.value?.owner !== id || state.revision !== held.lease.revision) {
          work.push(stopHost(s, "fenced"))
        } else if (!canWork || desired[s] !== id) {
          work.push(handOff(s))
        }
      } else if (canWork && desired[s] === id) {
        const holder = state.value?.owner
        if (holder === undefined || holder === id || !membership.isAlive(holder)) work.push(acquire(s, state))
      }
    }
    await Promise.all(work)
  }

  // The sink's fence checks the lease the host was started under, not the hosts map: a handoff
  // removes the host from the map before its final flush, which must still go through.
  const fenceCheck = (lease: Lease) => () => leases.holds(lease)

  const acquire = async (s: number, from: LeaseState) => {
    busy.add(s)
    try {
      const lease = await leases.take(s, from)
      if (!lease) return
      const host = new ShardHost({
        shard: s, lease, owner: id, nats, checkpoints, kind: d.kind,
        sink: d.sinkFor ? d.sinkFor(s, fenceCheck(lease)) : noopSink(),
        clock: d.clock, log: d.log, healthy: () => membership.healthy(), options: hostOptions,
        onEnded: () => void reconcile(),
      })
      hosts.set(s, host)
      try {
        await host.start()
      } catch (e) {
        d.log("shard.start_failed", { shard: s, error: String(e) })
        hosts.delete(s)
        await host.stop("fenced")
        await leases.release(lease).catch(() => {})
      }
    } catch (e) {
      d.log("lease.error", { shard: s, error: String(e) })
    } finally {
      busy.delete(s)
    }
  }

  const stopHost = async (s: number, reason: StopReason) => {
    const h = hosts.get(s)
    if (!h || busy.has(s)) return
    busy.add(s)
    try {
      hosts.delete(s)
      await h.stop(reason)
    } finally {
      busy.delete(s)
    }
  }

  const handOff = async (s: number, reason: StopReason = draining ? "drain" : "handoff") => {
    const h = hosts.get(s)
    if (!h) return
    busy.add(s)
    try {
      hosts.delete(s)
      const clean = await h.stop(reason)
      if (!clean) d.log("shard.handoff_unclean", { shard: s, note: "released without a final checkpoint; the next owner replays from the last one" })
      // Release even after a failed final checkpoint: keeping the lease while not processing would
      // leave the shard stuck with a live holder, and replaying from the last checkpoint is idempotent.
      if (await leases.release(h.lease).catch(() => false)) nats.nc.publish(`akis.ctl.released.${s}`)
    } finally {
      busy.delete(s)
    }
  }

  let markStopped!: () => void
  const stoppedPromise = new Promise<void>((r) => (markStopped = r))
  await membership.start()
  membership.onChange(() => void reconcile())
  // A released shard is picked up at once by its new owner rather than at the next timer.
  nats.nc.subscribe("akis.ctl.released.*", {
    callback: (_e, m) => {
      if (fromRequester(m, /^akis\.ctl\.released\.\d+$/, false)) void reconcile()
    },
  })
  // Control subjects: `ops cluster` asks for stats, `ops drain <node>` asks for a planned leave.
  nats.nc.subscribe(`akis.ctl.stats.${id}`, {
    callback: (_e, m) => {
      if (!fromRequester(m, `akis.ctl.stats.${id}`)) return
      // `{"gc":true}` (ops bench scale) collects garbage first, so `memory.heapUsed` is live data only.
      let gc = false
      try {
        gc = m.data.length > 0 && StatsRequest.fromJson(m.data).gc === true
      } catch (e) {
        d.log("ctl.bad_request", { subject: m.subject, reason: String((e as Error).message) }) // answered with plain stats
      }
      if (gc) Bun.gc(true)
      const { rss, heapUsed } = process.memoryUsage()
      void Promise.all([...hosts.values()].map((h) => h.stats())).then((shards) =>
        m.respond(NodeStats.toBytes({ node: id, draining, memory: { rss, heapUsed }, shards })))
    },
  })
  nats.nc.subscribe(`akis.ctl.drain.${id}`, {
    callback: (_e, m) => {
      if (!fromRequester(m, `akis.ctl.drain.${id}`)) return d.log("ctl.refused", { subject: m.subject, reply: m.reply ?? null })
      m.respond(DrainAnswer.toBytes({ ok: true, node: id, shards: hosts.size }))
      void node.drain()
    },
  })
  const timer = setInterval(() => void reconcile(), Math.max(100, Math.floor(o.heartbeatMs / 2)))
  d.log("node.start", { node: id, partitions: o.partitions, roles: o.roles })
  void reconcile()

  const node: AkisNode = {
    id,
    nats,
    buckets,
    membership,
    hosted: () => [...hosts.keys()].sort((a, b) => a - b),
    hosts: () => hosts,
    stopped: stoppedPromise,
    async drain() {
      if (draining || stopped) return
      draining = true
      d.log("node.drain", { node: id, shards: hosts.size })
      await membership.drain()
      while (reconciling) await Bun.sleep(10)
      await Promise.all([...hosts.keys()].map((s) => handOff(s, "drain")))
      await node.stop(true)
    },
    async stop(leave = false) {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      await Promise.all([...hosts.keys()].map((s) => stopHost(s, "shutdown")))
      await membership.stop(leave)
      await Promise.all([nats.nc.drain().catch(() => {}), control.nc.drain().catch(() => {})])
      d.log("node.stop", { node: id })
      markStopped()
    },
  }
  return node
}
