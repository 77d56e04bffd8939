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
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, type ConsumerConfig, type StreamConfig } from "@nats-io/jetstream"
import { TopologyUnavailable } from "../errors.ts"
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

/** Topology options from a loaded config. */
export const topologyOptions = (c: {
  readonly streams: { replicas: number; telemetryMaxAgeHours: number; alertsMaxAgeHours: number; telemetryMaxMB?: number; alertsMaxMB?: number }
  readonly sink?: { alertsConsumer: string }
}): TopologyOptions => ({
  replicas: c.streams.replicas, telemetryMaxAgeHours: c.streams.telemetryMaxAgeHours, alertsMaxAgeHours: c.streams.alertsMaxAgeHours,
  telemetryMaxMB: c.streams.telemetryMaxMB, alertsMaxMB: c.streams.alertsMaxMB, alertsConsumer: c.sink?.alertsConsumer,
})

// Applying the table (IO) lives in topology-apply.ts; re-exported so importers keep one module.
export {
  applyTopology, checkPartitions, ensureBuckets, ensureStreams, ensureTopology, isPermissionDenied, openBucket,
  type Buckets, type EnsureOptions, type TopologyLog,
} from "./topology-apply.ts"
