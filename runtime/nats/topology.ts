/**
 * The one owner of akis's JetStream topology: every stream, bucket, object store and durable
 * consumer, with its name and settings, is a row of {@link definitions}. Every process (node,
 * gateway, alert writer, rules store, ops, api, notifiers) creates or opens them through
 * {@link ensureTopology}, so whichever starts first creates them the same way (R3 in a
 * `streams.replicas: 3` cluster), and a process that finds one with contradicting settings
 * refuses to start ({@link TopologyConflict}) instead of running on it.
 *
 * To add a stream or bucket: add a row (name, settings, which roles may read or write it). The
 * NATS permissions of each role (runtime/nats/permissions.ts) are derived from the same rows.
 */
import {
  AckPolicy, DeliverPolicy, DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType,
  type ConsumerConfig, type JetStreamManager, type StreamConfig,
} from "@nats-io/jetstream"
import type { KV, Kvm } from "@nats-io/kv"
import { Objm } from "@nats-io/obj"
import { PartitionMismatch, TopologyConflict, TopologyUnavailable } from "../errors.ts"
import { openBlobStore, type BlobStore } from "./blob-store.ts"
import { deadLetterStream } from "./dead-letters.ts"

/** Who connects to NATS: each role has its own credentials and permissions (docs/security.md). */
export const roles = ["admin", "node", "gateway", "inspector", "api", "notifier"] as const
export type Role = (typeof roles)[number]

/**
 * What a role may do with a row. `create`: info, and create it when missing. `read`: info and
 * KV get. `watch`: read plus KV watch/keys/history, or its own consumers on a stream. `write`:
 * for a bucket watch plus put; for a stream read plus publish (a gateway writes AKIS_TLM but
 * cannot read it). The node role creates and uses every row; admin may do anything.
 */
export type Access = "create" | "read" | "watch" | "write"

/** Stream limits and names from config (streams.* and sink.alertsConsumer). */
export interface TopologyOptions {
  readonly replicas: number
  readonly telemetryMaxAgeHours: number
  readonly alertsMaxAgeHours: number
  /** Byte limit of AKIS_TLM in MiB (oldest batches go first); default 10 GiB. */
  readonly telemetryMaxMB?: number
  /** Byte limit of AKIS_ALERTS and AKIS_DLQ in MiB; default 1 GiB. */
  readonly alertsMaxMB?: number
  /** Durable consumer of the alert writer (config sink.alertsConsumer). */
  readonly alertsConsumer?: string
}

export interface StreamDef {
  readonly kind: "stream"
  readonly name: string
  readonly subjects: ReadonlyArray<string>
  readonly maxAgeHours: (o: TopologyOptions) => number
  readonly maxMB: (o: TopologyOptions) => number
  readonly duplicateWindowSec: number
  readonly discard: DiscardPolicy
  readonly access: Partial<Record<Role, Access>>
}
export interface BucketDef {
  readonly kind: "kv"
  readonly name: string
  readonly history: number
  /** Values unchanged for this long expire (0/undefined: kept). */
  readonly ttlHours?: number
  readonly access: Partial<Record<Role, Access>>
}
export interface ObjectStoreDef {
  readonly kind: "obj"
  readonly name: string
  readonly access: Partial<Record<Role, Access>>
}
export interface ConsumerDef {
  readonly kind: "consumer"
  /** Key in the table; the durable's name may come from config. */
  readonly key: string
  readonly stream: string
  readonly durable: (o: TopologyOptions) => string
  readonly config: (o: TopologyOptions) => Partial<ConsumerConfig>
  /** Roles that pull from it (and nobody else may). */
  readonly users: ReadonlyArray<Role>
}
export type Definition = StreamDef | BucketDef | ObjectStoreDef | ConsumerDef

const mb = 1024 * 1024
const sec = 1e9
const hoursToNanos = (h: number) => h * 3600 * sec

/** Names of akis's streams and buckets: plain JetStream/KV names, so the `nats` CLI shows them. */
export const names = {
  telemetry: "AKIS_TLM",
  alerts: "AKIS_ALERTS",
  /** Dead letters: batches and alerts that could not be processed, with the reason. */
  deadLetters: deadLetterStream.name,
  members: "akis_members",
  shards: "akis_shards",
  config: "akis_config",
  rules: "akis_rules",
  snapshots: "akis_snapshots",
  /** Object store (stream OBJ_akis_snapshots) for checkpoint bodies too large for a KV value. */
  snapshotObjects: "akis_snapshots",
  /** API tokens (hashed) and the API's audit trail (issue 11). */
  tokens: "akis_tokens",
  audit: "akis_audit",
  /** The notifier's lease, throttle/cap/digest state and delivered marks (values expire after a week unchanged). */
  notify: "akis_notify",
} as const

/** Default durable name of the alert writer (config sink.alertsConsumer). */
export const defaultAlertsConsumer = "akis_sink_alerts"

/**
 * The table. Settings that must agree cluster-wide live here and nowhere else; config supplies
 * replicas, ages and byte limits.
 */
export const definitions: ReadonlyArray<Definition> = [
  {
    kind: "stream", name: names.telemetry, subjects: ["akis.tlm.*"], duplicateWindowSec: 120, discard: DiscardPolicy.Old,
    maxAgeHours: (o) => o.telemetryMaxAgeHours, maxMB: (o) => o.telemetryMaxMB ?? 10_240,
    access: { gateway: "write", inspector: "read", api: "read" },
  },
  {
    kind: "stream", name: names.alerts, subjects: ["akis.alerts.>"], duplicateWindowSec: 600, discard: DiscardPolicy.Old,
    maxAgeHours: (o) => o.alertsMaxAgeHours, maxMB: (o) => o.alertsMaxMB ?? 1_024,
    access: { inspector: "read", api: "watch", notifier: "watch" },
  },
  {
    // dead letters (dead-letters.ts): the msg id is the original stream:seq, kept 10 min against re-dead-lettering
    kind: "stream", name: names.deadLetters, subjects: deadLetterStream.subjects, duplicateWindowSec: 600, discard: DiscardPolicy.Old,
    maxAgeHours: () => deadLetterStream.maxAgeHours, maxMB: (o) => o.alertsMaxMB ?? 1_024,
    access: { inspector: "read", api: "read", notifier: "write" },
  },
  { kind: "kv", name: names.members, history: 1, access: { inspector: "read", api: "watch" } }, // api: lists members (keys)
  { kind: "kv", name: names.shards, history: 1, access: { inspector: "read", api: "watch" } }, // api: lists leases (keys)
  { kind: "kv", name: names.config, history: 1, access: { inspector: "read", api: "read" } },
  { kind: "kv", name: names.rules, history: 64, access: { inspector: "read", api: "write", notifier: "read" } },
  { kind: "kv", name: names.snapshots, history: 1, access: { inspector: "read", api: "read" } }, // api: checkpoint positions in the shard map
  { kind: "obj", name: names.snapshotObjects, access: {} },
  { kind: "kv", name: names.tokens, history: 1, access: { node: "create", api: "write" } },
  { kind: "kv", name: names.audit, history: 1, access: { node: "create", api: "write", inspector: "read" } },
  { kind: "kv", name: names.notify, history: 1, ttlHours: 24 * 7, access: { notifier: "write", inspector: "read" } },
  {
    kind: "consumer", key: "sinkAlerts", stream: names.alerts, users: ["node"],
    durable: (o) => o.alertsConsumer ?? defaultAlertsConsumer,
    // A batch fetched by a node that then dies is redelivered after ack_wait: keep it short (alerts
    // reach ClickHouse 10 s late at worst); a live writer retrying an insert extends it with
    // in-progress acks, and a redelivered batch is harmless (the table de-duplicates by id).
    config: (o) => ({
      durable_name: o.alertsConsumer ?? defaultAlertsConsumer, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All,
      max_ack_pending: 10_000, ack_wait: 10 * sec,
    }),
  },
]

/** The JetStream stream behind a row (KV_<b> / OBJ_<b> for buckets). */
export const streamName = (d: StreamDef | BucketDef | ObjectStoreDef): string =>
  d.kind === "kv" ? `KV_${d.name}` : d.kind === "obj" ? `OBJ_${d.name}` : d.name

/** A row by its (bucket or stream) name. */
export const definition = (name: string): Definition => {
  const d = definitions.find((x) => (x.kind === "consumer" ? x.key : x.name) === name)
  if (!d) throw new TopologyUnavailable({ message: `no topology row named ${name}` })
  return d
}

/** The settings a row's stream must have: what is created, and what an existing one is checked against. */
export const wantedStream = (d: StreamDef | BucketDef | ObjectStoreDef, o: TopologyOptions): Partial<StreamConfig> & { name: string } => {
  const common = { name: streamName(d), retention: RetentionPolicy.Limits, storage: StorageType.File, num_replicas: o.replicas }
  if (d.kind === "stream") {
    return {
      ...common, subjects: [...d.subjects], max_age: hoursToNanos(d.maxAgeHours(o)), max_bytes: d.maxMB(o) * mb,
      duplicate_window: d.duplicateWindowSec * sec, discard: d.discard,
    }
  }
  if (d.kind === "kv") return { ...common, subjects: [`$KV.${d.name}.>`], max_msgs_per_subject: d.history, max_age: hoursToNanos(d.ttlHours ?? 0) }
  return { ...common, subjects: [`$O.${d.name}.C.>`, `$O.${d.name}.M.>`], max_age: 0 }
}

const describe = (k: string, v: unknown): string => {
  if (k === "max_age" || k === "duplicate_window") return v === 0 ? "unlimited" : `${Number(v) / sec} s`
  if (k === "max_bytes") return v === -1 || v === undefined ? "unlimited" : `${Math.round(Number(v) / mb)} MiB`
  return JSON.stringify(v)
}

/**
 * What differs between the wanted settings and an existing stream's (pure). Only the settings
 * the table owns are compared; an empty list means the stream may be used.
 */
export const streamDifferences = (want: Partial<StreamConfig>, have: Partial<StreamConfig>): string[] => {
  const out: string[] = []
  for (const k of ["num_replicas", "subjects", "retention", "storage", "max_age", "max_bytes", "duplicate_window", "max_msgs_per_subject", "discard"] as const) {
    if (!(k in want)) continue
    const w = want[k]
    const h = have[k] ?? (k === "max_bytes" || k === "max_msgs_per_subject" ? -1 : k === "num_replicas" ? 1 : undefined)
    const same = Array.isArray(w) ? JSON.stringify([...w].sort()) === JSON.stringify([...((h as string[]) ?? [])].sort()) : w === h
    if (!same) out.push(`${k} is ${describe(k, h)}, configured ${describe(k, w)}`)
  }
  return out
}

/** What differs between a durable's wanted settings and the existing one (pure). */
export const consumerDifferences = (want: Partial<ConsumerConfig>, have: Partial<ConsumerConfig>): string[] => {
  const out: string[] = []
  for (const k of ["ack_policy", "deliver_policy", "filter_subject", "deliver_subject"] as const) {
    if ((want[k] ?? undefined) !== (have[k] ?? undefined)) out.push(`${k} is ${JSON.stringify(have[k])}, configured ${JSON.stringify(want[k])}`)
  }
  return out
}

const isNotFound = (e: unknown) => {
  const code = e instanceof JetStreamApiError ? e.code : (e as { code?: unknown } | undefined)?.code
  return code === JetStreamApiCodes.StreamNotFound || code === JetStreamApiCodes.ConsumerNotFound
}
/** A publish this connection's credentials do not allow (the client rejects at once). */
export const isPermissionDenied = (e: unknown): boolean => /Permissions Violation/i.test(String((e as Error)?.message ?? e))

/** How ensureTopology reports that it waits for something it may not create. */
export type TopologyLog = (event: string, fields: Record<string, unknown>) => void

/** Options of {@link ensureTopology}. */
export interface EnsureOptions {
  /** Only these rows (by name / consumer key); default all streams, buckets and object stores. */
  readonly only?: ReadonlyArray<string>
  /** Create what is missing (default true). Without create rights the call waits until someone has. */
  readonly create?: boolean
  /** How long to wait for a row this process may not create (default 60 s). */
  readonly waitMs?: number
  readonly log?: TopologyLog
}

/**
 * Checks (and creates when missing) the rows: an existing stream with settings that contradict
 * `o` fails with {@link TopologyConflict} listing every difference; a missing one is created
 * from the row, or, when this process's credentials may not create it, waited for.
 */
export const ensureTopology = async (jsm: JetStreamManager, o: TopologyOptions, e: EnsureOptions = {}): Promise<void> => {
  const rows = definitions.filter((d) => (e.only ? e.only.includes(d.kind === "consumer" ? d.key : d.name) : d.kind !== "consumer"))
  // streams before consumers on them
  for (const d of rows.filter((r) => r.kind !== "consumer")) await ensureStreamRow(jsm, d as StreamDef | BucketDef | ObjectStoreDef, o, e)
  for (const d of rows.filter((r) => r.kind === "consumer")) await ensureConsumerRow(jsm, d as ConsumerDef, o)
}

const ensureStreamRow = async (jsm: JetStreamManager, d: StreamDef | BucketDef | ObjectStoreDef, o: TopologyOptions, e: EnsureOptions) => {
  const want = wantedStream(d, o)
  const check = (have: Partial<StreamConfig>) => {
    const diff = streamDifferences(want, have)
    if (diff.length) throw new TopologyConflict({ name: `${d.kind === "stream" ? "stream" : d.kind === "kv" ? "KV bucket" : "object store"} ${want.name}`, differences: diff })
  }
  const deadline = Date.now() + (e.waitMs ?? 60_000)
  for (let waited = false; ;) {
    try {
      return check((await jsm.streams.info(want.name)).config)
    } catch (err) {
      if (!isNotFound(err)) throw err // a conflict, a timeout or a leader election: the caller decides
    }
    if (e.create !== false) {
      try {
        const created = await createRow(jsm, d, o, want)
        if (created) return check(created)
      } catch (err) {
        if (!isPermissionDenied(err)) {
          // Another process may have created it at the same moment: check that one.
          const info = await jsm.streams.info(want.name).catch(() => undefined)
          if (info) return check(info.config)
          throw err
        }
      }
    }
    if (Date.now() > deadline) {
      throw new TopologyUnavailable({
        message: e.create === false ? `${want.name} does not exist (a node creates it at start; or run \`bun run ops topology apply\` as admin)`
          : `${want.name} does not exist and these NATS credentials may not create it; start a node (role node) or run \`bun run ops topology apply\` as admin`,
      })
    }
    if (!waited) e.log?.("topology.waiting", { name: want.name, reason: "missing; waiting for a node or an admin to create it" })
    waited = true
    await Bun.sleep(500)
  }
}

/** Creates a row's stream; returns its config (undefined when it must be read back). */
const createRow = async (jsm: JetStreamManager, d: StreamDef | BucketDef | ObjectStoreDef, o: TopologyOptions, want: Partial<StreamConfig> & { name: string }) => {
  if (d.kind === "stream") return (await jsm.streams.add(want)).config
  const js = jsm.jetstream()
  if (d.kind === "kv") {
    const { Kvm } = await import("@nats-io/kv")
    await new Kvm(js).create(d.name, { history: d.history, replicas: o.replicas, storage: StorageType.File, ttl: (d.ttlHours ?? 0) * 3_600_000 })
  } else {
    await new Objm(js).create(d.name, { replicas: o.replicas, storage: StorageType.File })
  }
  return (await jsm.streams.info(want.name)).config
}

const ensureConsumerRow = async (jsm: JetStreamManager, d: ConsumerDef, o: TopologyOptions) => {
  const want = d.config(o)
  const name = d.durable(o)
  const info = await jsm.consumers.info(d.stream, name).catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)))
  if (!info) {
    await jsm.consumers.add(d.stream, want).catch(async (err) => {
      if (!(await jsm.consumers.info(d.stream, name).catch(() => undefined))) throw err
    })
    return
  }
  const diff = consumerDifferences(want, info.config)
  if (diff.length) throw new TopologyConflict({ name: `consumer ${name} on ${d.stream}`, differences: diff })
  // Limits that may change in place (ack wait, max ack pending) follow the table.
  if (info.config.ack_wait !== want.ack_wait || info.config.max_ack_pending !== want.max_ack_pending) {
    await jsm.consumers.update(d.stream, name, { ack_wait: want.ack_wait, max_ack_pending: want.max_ack_pending }).catch(() => {})
  }
}

/**
 * Updates existing streams to the table's settings where NATS allows it (replicas, subjects, ages,
 * byte limits, duplicate window); creates what is missing. `ops topology apply` (admin).
 * Returns what was changed; retention or storage differences cannot be applied and are returned as errors.
 */
export const applyTopology = async (jsm: JetStreamManager, o: TopologyOptions): Promise<{ changed: string[]; impossible: string[] }> => {
  const changed: string[] = []
  const impossible: string[] = []
  for (const d of definitions) {
    if (d.kind === "consumer") continue
    const want = wantedStream(d, o)
    const info = await jsm.streams.info(want.name).catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)))
    if (!info) {
      await createRow(jsm, d, o, want)
      changed.push(`${want.name}: created`)
      continue
    }
    const diff = streamDifferences(want, info.config)
    if (!diff.length) continue
    if (info.config.retention !== want.retention || info.config.storage !== want.storage) {
      impossible.push(`${want.name}: ${diff.join("; ")} (retention/storage cannot change: back up and recreate the stream)`)
      continue
    }
    const { name: _n, retention: _r, storage: _s, ...changes } = want
    await jsm.streams.update(want.name, changes)
    changed.push(`${want.name}: ${diff.join("; ")}`)
  }
  await ensureTopology(jsm, o, { only: definitions.filter((d) => d.kind === "consumer").map((d) => (d as ConsumerDef).key) })
  return { changed, impossible }
}

/** Creates the streams if absent and checks existing ones (TopologyConflict on contradicting settings). */
export const ensureStreams = (jsm: JetStreamManager, o: TopologyOptions, log?: TopologyLog): Promise<void> =>
  ensureTopology(jsm, o, { only: definitions.filter((d) => d.kind === "stream").map((d) => (d as StreamDef).name), log })

/** The KV buckets of the coordination plane, and the object store that checkpoint bodies spill to. */
export interface Buckets {
  readonly members: KV
  readonly shards: KV
  readonly config: KV
  readonly rules: KV
  readonly snapshots: KV
  readonly snapshotObjects: BlobStore
}

/** Checks (creating if absent) every bucket and the object store, then opens the node's. */
export const ensureBuckets = async (kvm: Kvm, o: TopologyOptions, log?: TopologyLog): Promise<Buckets> => {
  const jsm = await kvm.js.jetstreamManager()
  await ensureTopology(jsm, o, { only: definitions.filter((d) => d.kind === "kv" || d.kind === "obj").map((d) => (d as BucketDef).name), log })
  // Kvm.create on an existing bucket only reads its info; its handles read by direct get.
  const open = (name: string) => kvm.create(name, { history: (definition(name) as BucketDef).history, replicas: o.replicas, storage: StorageType.File })
  const [members, shards, config, rules, snapshots, snapshotObjects] = await Promise.all([
    open(names.members),
    open(names.shards),
    open(names.config),
    open(names.rules),
    open(names.snapshots),
    openBlobStore(new Objm(kvm.js), jsm, names.snapshotObjects, { replicas: o.replicas }),
  ])
  return { members, shards, config, rules, snapshots, snapshotObjects }
}

/** Opens one bucket of the table after checking it (created when missing and allowed). */
export const openBucket = async (kvm: Kvm, name: string, o: TopologyOptions, log?: TopologyLog): Promise<KV> => {
  const d = definition(name)
  if (d.kind !== "kv") throw new TopologyUnavailable({ message: `${name} is not a KV bucket` })
  await ensureTopology(await kvm.js.jetstreamManager(), o, { only: [name], log })
  return kvm.create(name, { history: d.history, replicas: o.replicas, storage: StorageType.File, ttl: (d.ttlHours ?? 0) * 3_600_000 })
}

/** Topology options from a loaded config. */
export const topologyOptions = (c: {
  readonly streams: { replicas: number; telemetryMaxAgeHours: number; alertsMaxAgeHours: number; telemetryMaxMB?: number; alertsMaxMB?: number }
  readonly sink?: { alertsConsumer: string }
}): TopologyOptions => ({
  replicas: c.streams.replicas, telemetryMaxAgeHours: c.streams.telemetryMaxAgeHours, alertsMaxAgeHours: c.streams.alertsMaxAgeHours,
  telemetryMaxMB: c.streams.telemetryMaxMB, alertsMaxMB: c.streams.alertsMaxMB, alertsConsumer: c.sink?.alertsConsumer,
})

/**
 * Records P in `akis_config` the first time and refuses a node configured with another P
 * (moving every shard's data is not something a restart may do silently).
 */
export const checkPartitions = async (config: KV, partitions: number): Promise<void> => {
  const entry = await config.get("partitions")
  const stored = entry && entry.operation === "PUT" ? Number(entry.string()) : undefined
  if (stored === undefined) {
    try {
      await config.create("partitions", String(partitions))
      return
    } catch {
      return checkPartitions(config, partitions)
    }
  }
  if (stored !== partitions) throw new PartitionMismatch({ configured: partitions, cluster: stored })
}
