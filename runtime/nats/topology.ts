import { DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager } from "@nats-io/jetstream"
import type { KV, Kvm } from "@nats-io/kv"
import { Objm } from "@nats-io/obj"
import { PartitionMismatch } from "../errors.ts"
import { openBlobStore, type BlobStore } from "./blob-store.ts"
import { deadLetterStream } from "./dead-letters.ts"

/** Names of akis's streams and buckets: plain JetStream/KV names, so the `nats` CLI shows them. */
export const names = {
  telemetry: "AKIS_TLM",
  alerts: "AKIS_ALERTS",
  members: "akis_members",
  shards: "akis_shards",
  config: "akis_config",
  rules: "akis_rules",
  snapshots: "akis_snapshots",
  deadLetters: "AKIS_DLQ",
  /** Object store (stream OBJ_akis_snapshots) for checkpoint bodies too large for a KV value. */
  snapshotObjects: "akis_snapshots",
} as const

/** Stream limits from config. */
export interface TopologyOptions {
  readonly replicas: number
  readonly telemetryMaxAgeHours: number
  readonly alertsMaxAgeHours: number
}

const hoursToNanos = (h: number) => h * 3600 * 1e9

/** JetStream API error 10058: "stream name already in use with a different configuration". */
const streamNameInUse = 10058

const isStreamNotFound = (e: unknown) => e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound

/** Creates a stream if it does not exist; an existing stream is left as it is (never reconfigured). */
const ensureStream = async (jsm: JetStreamManager, cfg: Parameters<JetStreamManager["streams"]["add"]>[0]) => {
  try {
    return await jsm.streams.info(cfg.name!)
  } catch (e) {
    if (!isStreamNotFound(e)) throw e // a timeout or leader election: the caller retries
  }
  try {
    return await jsm.streams.add(cfg)
  } catch (e) {
    // Another node may have created it at the same moment, with other limits: use that one.
    return await jsm.streams.info(cfg.name!).catch(() => Promise.reject(e))
  }
}

/** Creates the streams if absent (idempotent; never changes an existing stream). */
export const ensureStreams = async (jsm: JetStreamManager, o: TopologyOptions): Promise<void> => {
  await ensureStream(jsm, {
    name: names.telemetry, subjects: ["akis.tlm.*"], retention: RetentionPolicy.Limits, storage: StorageType.File,
    max_age: hoursToNanos(o.telemetryMaxAgeHours), num_replicas: o.replicas, discard: DiscardPolicy.Old,
    duplicate_window: 120 * 1e9,
  })
  await ensureStream(jsm, {
    name: names.alerts, subjects: ["akis.alerts.>"], retention: RetentionPolicy.Limits, storage: StorageType.File,
    max_age: hoursToNanos(o.alertsMaxAgeHours), num_replicas: o.replicas, duplicate_window: 600 * 1e9,
  })
  await ensureStream(jsm, {
    name: deadLetterStream.name, subjects: [...deadLetterStream.subjects], retention: RetentionPolicy.Limits, storage: StorageType.File,
    max_age: hoursToNanos(deadLetterStream.maxAgeHours), num_replicas: o.replicas, duplicate_window: 600 * 1e9,
  })
}

/** The KV buckets of the coordination plane, and the object store that checkpoint bodies spill to. */
export interface Buckets {
  readonly members: KV
  readonly shards: KV
  readonly config: KV
  readonly rules: KV
  readonly snapshots: KV
  readonly snapshotObjects: BlobStore
}

/** Opens (creating if absent) every bucket and the snapshot object store, all with `o.replicas`. */
export const ensureBuckets = async (kvm: Kvm, o: TopologyOptions): Promise<Buckets> => {
  // Kvm.create opens an existing bucket; on "different configuration" (other replicas) open it as it is.
  const open = (name: string, history = 1) =>
    kvm.create(name, { history, replicas: o.replicas, storage: StorageType.File }).catch((e) =>
      e instanceof JetStreamApiError && e.code === streamNameInUse ? kvm.open(name) : Promise.reject(e))
  const [members, shards, config, rules, snapshots, snapshotObjects] = await Promise.all([
    open(names.members),
    open(names.shards),
    open(names.config),
    open(names.rules, 64),
    open(names.snapshots),
    kvm.js.jetstreamManager().then((jsm) => openBlobStore(new Objm(kvm.js), jsm, names.snapshotObjects, { replicas: o.replicas })),
  ])
  return { members: members!, shards: shards!, config: config!, rules: rules!, snapshots: snapshots!, snapshotObjects }
}

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
