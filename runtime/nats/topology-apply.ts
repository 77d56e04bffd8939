/**
 * Applying the topology table (topology.ts) to a NATS server: create what is missing, refuse what
 * contradicts it, update what may change in place (`ops topology apply`), open the node's buckets
 * as ports, and record the partition count.
 */
import { JetStreamApiCodes, JetStreamApiError, StorageType, type JetStreamManager, type StreamConfig } from "@nats-io/jetstream"
import type { KV, Kvm } from "@nats-io/kv"
import { Objm } from "@nats-io/obj"
import { systemClock } from "../clock.ts"
import { retry } from "../retry.ts"
import { KvConflict, PartitionMismatch, TopologyConflict, TopologyUnavailable } from "../errors.ts"
import { openBlobStore } from "./blob-store.ts"
import { natsKv } from "./kv.ts"
import type { BlobStore, Kv } from "./ports.ts"
import {
  consumerDifferences, definition, definitions, names, streamDifferences, wantedStream,
  type BucketDef, type ConsumerDef, type ObjectStoreDef, type StreamDef, type TopologyOptions,
} from "./topology.ts"

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
  const missing = () => new TopologyUnavailable({
    message: e.create === false ? `${want.name} does not exist (a node creates it at start; or run \`bun run ops topology apply\` as admin)`
      : `${want.name} does not exist and these NATS credentials may not create it; start a node (role node) or run \`bun run ops topology apply\` as admin`,
  })
  // Missing and not ours to create: wait for a node or an admin, every 500 ms up to waitMs.
  await retry(async () => {
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
    throw missing()
  }, {
    clock: systemClock,
    backoff: { initialMs: 500, maxMs: 500, jitter: 0 },
    deadlineMs: e.waitMs ?? 60_000,
    retryable: (err) => err instanceof TopologyUnavailable,
    onRetry: (_err, attempt) => {
      if (attempt === 1) e.log?.("topology.waiting", { name: want.name, reason: "missing; waiting for a node or an admin to create it" })
    },
  })
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
  readonly members: Kv
  readonly shards: Kv
  readonly config: Kv
  readonly snapshots: Kv
  readonly snapshotObjects: BlobStore
}

/** Checks (creating if absent) every bucket and the object store, then opens the node's. */
export const ensureBuckets = async (kvm: Kvm, o: TopologyOptions, log?: TopologyLog): Promise<Buckets> => {
  const jsm = await kvm.js.jetstreamManager()
  await ensureTopology(jsm, o, { only: definitions.filter((d) => d.kind === "kv" || d.kind === "obj").map((d) => (d as BucketDef).name), log })
  // Kvm.create on an existing bucket only reads its info; its handles read by direct get.
  const open = async (name: string) =>
    natsKv(await kvm.create(name, { history: (definition(name) as BucketDef).history, replicas: o.replicas, storage: StorageType.File }))
  const [members, shards, config, snapshots, snapshotObjects] = await Promise.all([
    open(names.members),
    open(names.shards),
    open(names.config),
    open(names.snapshots),
    openBlobStore(new Objm(kvm.js), jsm, names.snapshotObjects, { replicas: o.replicas }),
  ])
  return { members, shards, config, snapshots, snapshotObjects }
}

/** Opens one bucket of the table after checking it (created when missing and allowed). */
export const openBucket = async (kvm: Kvm, name: string, o: TopologyOptions, log?: TopologyLog): Promise<KV> => {
  const d = definition(name)
  if (d.kind !== "kv") throw new TopologyUnavailable({ message: `${name} is not a KV bucket` })
  await ensureTopology(await kvm.js.jetstreamManager(), o, { only: [name], log })
  return kvm.create(name, { history: d.history, replicas: o.replicas, storage: StorageType.File, ttl: (d.ttlHours ?? 0) * 3_600_000 })
}

/**
 * Records P in `akis_config` the first time and refuses a node configured with another P
 * (moving every shard's data is not something a restart may do silently).
 */
export const checkPartitions = async (config: Kv, partitions: number): Promise<void> => {
  const entry = await config.get("partitions")
  const stored = entry && entry.operation === "PUT" ? Number(new TextDecoder().decode(entry.value)) : undefined
  if (stored === undefined) {
    try {
      await config.create("partitions", String(partitions))
      return
    } catch (e) {
      if (!(e instanceof KvConflict)) throw e
      return checkPartitions(config, partitions) // another node recorded it first: compare with theirs
    }
  }
  if (stored !== partitions) throw new PartitionMismatch({ configured: partitions, cluster: stored })
}
