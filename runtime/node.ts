import { hostname } from "node:os"
import type { ActorKind } from "./actor-kind.ts"
import { Checkpoints } from "./checkpoints.ts"
import type { Clock } from "./clock.ts"
import { announceRelease, serveControlPlane } from "./control-plane.ts"
import { Coordinator } from "./coordinator.ts"
import { PartitionMismatch, TopologyConflict } from "./errors.ts"
import { Leases, type Lease } from "./leases.ts"
import { Membership, type Heartbeats, type MemberSelf, type MembershipOptions } from "./membership.ts"
import { natsAuth, type NatsAuthConfig } from "./nats/auth.ts"
import { natsBus } from "./nats/bus.ts"
import { connectNats } from "./nats/connection.ts"
import { heartbeatThread } from "./nats/heartbeat-thread.ts"
import { natsJetStream } from "./nats/jetstream.ts"
import { natsKv } from "./nats/kv.ts"
import type { BlobStore, Bus, JetStream, Kv } from "./nats/ports.ts"
import { checkPartitions, ensureBuckets, ensureStreams, names } from "./nats/topology.ts"
import { retry } from "./retry.ts"
import { ShardHost, type EventLog, type ShardHostOptions } from "./shard-host.ts"
import { noopSink, type SinkPort } from "./sink-port.ts"
import { LagReport, lagSubject } from "./wire.ts"

/** Settings of a node (from config). */
export interface NodeOptions {
  readonly id: string
  readonly roles: ReadonlyArray<string>
  readonly partitions: number
  readonly servers: ReadonlyArray<string>
  readonly user?: string
  readonly pass?: string
  /** The nats section of the config: credentials, TLS and reply prefix of the node role (runtime/nats/auth.ts `natsAuth`). */
  readonly auth?: NatsAuthConfig
  readonly heartbeatMs: number
  readonly suspicionMs: number
  /** Heartbeats stop once the event loop has not turned for this long (startNode's heartbeat thread); default 5 s. */
  readonly watchdogMs?: number
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

/**
 * Everything of NATS a node uses, as ports: the coordination buckets (members and shards on a
 * connection of their own), checkpoints, JetStream and core messaging. In-memory twins in tests.
 */
export interface NodePorts {
  readonly members: Kv
  readonly shards: Kv
  readonly snapshots: Kv
  readonly snapshotObjects: BlobStore
  readonly js: JetStream
  readonly bus: Bus
  /** How this node's heartbeats are written; default: from its event loop on `members`. */
  readonly heartbeats?: (self: MemberSelf, opts: MembershipOptions) => Heartbeats
  /** Closes the connections; called last when the node stops. */
  close(): Promise<void>
}

/** Where the node runs (its member record); defaults from this process. */
export interface NodeProcess {
  readonly pid: number
  readonly host: string
}

/**
 * Starts a node: connects, creates or checks the topology and P, then runs it ({@link runNode}).
 * A NATS cluster that is starting or electing leaders times out for a while: set-up is retried for
 * a minute, but a partition-count or topology conflict is final at once.
 */
export const startNode = async (o: NodeOptions, d: NodeDeps): Promise<AkisNode> => {
  const id = o.id || `${hostname()}-${process.pid}`
  const auth = o.auth ? natsAuth(o.auth, "node") : undefined
  const nats = await connectNats({ servers: o.servers, user: o.user, pass: o.pass, auth, name: `akis-${id}` })
  const buckets = await retry(async () => {
    await ensureStreams(nats.jsm, o, d.log)
    const b = await ensureBuckets(nats.kvm, o, d.log)
    await checkPartitions(b.config, o.partitions)
    return b
  }, {
    clock: d.clock,
    backoff: { initialMs: 250, maxMs: 4_000, jitter: 0 },
    deadlineMs: 60_000,
    retryable: (e) => !(e instanceof PartitionMismatch || e instanceof TopologyConflict),
    onRetry: (e, _attempt, delayMs) => d.log("node.retry", { what: "set up streams and buckets", error: String(e), delayMs }),
  })
  // Heartbeats and leases travel on a connection of their own: on the data connection their
  // acks queue behind megabytes of reading batches under load, and a heartbeat acked late makes
  // the node fence itself although it is alive (seen in the e2e bench at 20k readings/s).
  const control = await connectNats({ servers: o.servers, user: o.user, pass: o.pass, auth, name: `akis-${id}-control` })
  const [members, shards] = await Promise.all([control.kvm.open(names.members), control.kvm.open(names.shards)])
  return runNode({ ...o, id }, d, {
    members: natsKv(members),
    shards: natsKv(shards),
    snapshots: buckets.snapshots,
    snapshotObjects: buckets.snapshotObjects,
    js: natsJetStream(nats.js, nats.jsm),
    bus: natsBus(nats.nc),
    // Heartbeats from a thread with a third connection: on time while this event loop is starved.
    heartbeats: heartbeatThread(
      { servers: o.servers, user: o.user, pass: o.pass, auth: o.auth, name: `akis-${id}-heartbeats`, bucket: names.members, watchdogMs: o.watchdogMs ?? 5_000 },
      d.clock,
      {
        onWithheld: (loopSilentMs) => d.log("node.heartbeats_withheld", { node: id, loopSilentMs }),
        onRestart: (reason) => d.log("node.heartbeat_thread_failed", { node: id, reason }),
      },
    ),
    close: async () => {
      await Promise.all([nats.nc.drain().catch(() => {}), control.nc.drain().catch(() => {})])
    },
  })
}

/**
 * Runs a node on its ports: the one place its parts are wired. Membership heartbeats; the
 * {@link Coordinator} keeps held shards in line with placement (on membership change, on a
 * release, and every half heartbeat); each held shard is a {@link ShardHost}; the control plane
 * answers `akis.ctl.*`. Stop order: reconcile timer, hosts, membership, connections.
 */
export const runNode = async (o: NodeOptions, d: NodeDeps, ports: NodePorts, proc: NodeProcess = { pid: process.pid, host: hostname() }): Promise<AkisNode> => {
  const id = o.id
  const membership = new Membership(
    ports.members,
    { id, roles: o.roles, version: o.version ?? "0.1.0", pid: proc.pid, host: proc.host, startedAt: d.clock.now() },
    { heartbeatMs: o.heartbeatMs, suspicionMs: o.suspicionMs },
    d.clock,
    ports.heartbeats,
  )
  const leases = new Leases(ports.shards, id, d.clock)
  const checkpoints = new Checkpoints(ports.snapshots, { objects: ports.snapshotObjects })
  const hostOptions: ShardHostOptions = { tickMs: 1_000, ...o.host }
  // The sink's fence checks the lease the host was started under, not the held map: a handoff
  // removes the host from the map before its final flush, which must still go through.
  const fenceCheck = (lease: Lease) => () => leases.holds(lease)
  const coordinator: Coordinator = new Coordinator({
    id, partitions: o.partitions, worker: o.roles.includes("worker"), membership, leases, log: d.log,
    announceRelease: (s) => announceRelease(ports.bus, s),
    makeHost: (s, lease) => new ShardHost({
      shard: s, lease, owner: id, js: ports.js, bus: ports.bus, checkpoints, kind: d.kind,
      sink: d.sinkFor ? d.sinkFor(s, fenceCheck(lease)) : noopSink(),
      clock: d.clock, log: d.log, healthy: () => membership.healthy(), leaseHeld: fenceCheck(lease), options: hostOptions,
      onEnded: () => void coordinator.hostEnded(s),
    }),
  })
  let draining = false
  let stopped = false
  let markStopped!: () => void
  const stoppedPromise = new Promise<void>((r) => (markStopped = r))

  await membership.start()
  membership.onChange(() => void coordinator.reconcile())
  const stopControl = serveControlPlane({
    bus: ports.bus, id, log: d.log,
    onReleased: () => void coordinator.reconcile(),
    shardCount: () => coordinator.held.size,
    drain: () => void node.drain(),
    stats: async (gc) => {
      if (gc) Bun.gc(true)
      const { rss, heapUsed } = process.memoryUsage()
      const shards = await Promise.all([...coordinator.held.values()].map((h) => h.stats()))
      return { node: id, draining, memory: { rss, heapUsed }, shards }
    },
  })
  const timer = d.clock.every(Math.max(100, Math.floor(o.heartbeatMs / 2)), () => void coordinator.reconcile())
  // For the gateways: their lag gauge, and admission when gateway.admitMaxLagBatches is set (gateway/cluster-lag.ts).
  const stopLagReports = o.roles.includes("worker")
    ? d.clock.every(o.heartbeatMs, () => ports.bus.publish(lagSubject(id), LagReport.toBytes(lagReport(id, coordinator.held.values()))))
    : () => {}
  d.log("node.start", { node: id, partitions: o.partitions, roles: o.roles })
  void coordinator.reconcile()

  const node: AkisNode = {
    id,
    membership,
    hosted: () => [...coordinator.held.keys()].sort((a, b) => a - b),
    hosts: () => coordinator.held,
    stopped: stoppedPromise,
    async drain() {
      if (draining || stopped) return
      draining = true
      d.log("node.drain", { node: id, shards: coordinator.held.size })
      await coordinator.drain(() => membership.drain())
      await node.stop(true)
    },
    async stop(leave = false) {
      if (stopped) return
      stopped = true
      timer()
      stopLagReports()
      stopControl()
      await coordinator.stop()
      await membership.stop(leave)
      await ports.close()
      d.log("node.stop", { node: id })
      markStopped()
    },
  }
  return node
}

/** The node's {@link LagReport}: its most lagging shard, by what each host last read. */
export const lagReport = (node: string, hosts: Iterable<{ readonly shard: number; readonly lagBatches: number }>): LagReport => {
  let worst: { shard: number; lagBatches: number } | undefined
  for (const h of hosts) if (!worst || h.lagBatches > worst.lagBatches) worst = h
  return { node, lagBatches: worst?.lagBatches ?? 0, shard: worst?.shard ?? null }
}
