/**
 * What an operator's tools read about NATS, as plain data: streams, consumers, KV buckets and
 * their entries (`ops streams|consumers|kv|cluster|notify status`, the API's /streams). The CLI
 * renders these rows and never sees a NATS type; a missing stream, bucket or consumer is
 * translated here, once, into {@link StreamNotFound} (or an empty answer where absence is normal).
 */
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager, type ConsumerInfo, type JetStreamManager, type StreamInfo } from "@nats-io/jetstream"
import { Kvm, type KvEntry as NatsKvEntry } from "@nats-io/kv"
import type { NatsConnection } from "@nats-io/transport-node"
import { StreamNotFound } from "../errors.ts"
import { natsKv } from "./kv.ts"

/** One stream as `nats stream report` shows it. */
export interface StreamReport {
  readonly stream: string
  readonly subjects: ReadonlyArray<string>
  readonly consumers: number
  readonly messages: number
  readonly bytes: number
  readonly firstSeq: number
  readonly lastSeq: number
  readonly deleted: number
  readonly storage: string
  readonly replicas: number
  /** 0 = no limit. */
  readonly maxAgeMs: number
  /** Cluster leader, null on a single server. */
  readonly leader: string | null
  readonly peers: ReadonlyArray<{ readonly name: string; readonly current: boolean; readonly offline: boolean }>
}

/** One consumer as `nats consumer report` shows it. */
export interface ConsumerReport {
  readonly stream: string
  readonly consumer: string
  readonly push: boolean
  readonly ackPolicy: string
  readonly ackWaitMs: number
  readonly filter: string
  readonly ackPending: number
  readonly redelivered: number
  /** Messages on the filter not yet delivered. */
  readonly unprocessed: number
  readonly ackFloor: number
  readonly delivered: number
  readonly waiting: number
  readonly leader: string | null
}

/** A KV bucket's status (`nats kv status`). */
export interface BucketReport {
  readonly bucket: string
  readonly values: number
  readonly history: number
  readonly replicas: number
  readonly bytes: number
}

/** One stored revision of a key, with the server's write time. */
export interface KeyReport {
  readonly key: string
  readonly revision: number
  readonly operation: "PUT" | "DEL" | "PURGE"
  /** Epoch ms of the write (server time). */
  readonly created: number
  readonly value: Uint8Array
}

/** Read-only views of a NATS server's JetStream state. */
export interface Inspect {
  /** Every stream (KV buckets and object stores included), in the server's order. */
  streams(): Promise<StreamReport[]>
  /** One stream, undefined when it does not exist. */
  stream(name: string): Promise<StreamReport | undefined>
  /** The consumers of a stream; none when the stream does not exist. */
  consumers(stream: string): Promise<ConsumerReport[]>
  /** One consumer, undefined when it (or its stream) does not exist. */
  consumer(stream: string, name: string): Promise<ConsumerReport | undefined>
  /** A bucket's status; {@link StreamNotFound} when the bucket does not exist. */
  bucket(name: string): Promise<BucketReport>
  /** The latest entry of each key (every key holding a value when `keys` is not given), sorted by key; StreamNotFound when the bucket does not exist. */
  entries(bucket: string, keys?: ReadonlyArray<string>): Promise<KeyReport[]>
  /** Every revision of `key` the bucket keeps, oldest first. */
  history(bucket: string, key: string): Promise<KeyReport[]>
}

const isNotFound = (e: unknown) =>
  e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.StreamNotFound || e.code === JetStreamApiCodes.ConsumerNotFound)

/** Runs `f`; a missing stream or consumer becomes {@link StreamNotFound} naming `stream`. */
export const orNotFound = async <T>(stream: string, f: () => Promise<T>): Promise<T> => {
  try {
    return await f()
  } catch (e) {
    if (isNotFound(e)) throw new StreamNotFound({ stream })
    throw e
  }
}

/** Runs `f`; a missing stream or consumer gives undefined. */
const orAbsent = async <T>(f: () => Promise<T>): Promise<T | undefined> => {
  try {
    return await f()
  } catch (e) {
    if (isNotFound(e)) return undefined
    throw e
  }
}

const streamReport = (si: StreamInfo): StreamReport => ({
  stream: si.config.name, subjects: si.config.subjects ?? [], consumers: si.state.consumer_count, messages: si.state.messages,
  bytes: si.state.bytes, firstSeq: si.state.first_seq, lastSeq: si.state.last_seq, deleted: si.state.num_deleted ?? 0,
  storage: String(si.config.storage), replicas: si.config.num_replicas, maxAgeMs: (si.config.max_age ?? 0) / 1e6,
  leader: si.cluster?.leader ?? null,
  peers: si.cluster?.replicas?.map((r) => ({ name: r.name, current: r.current, offline: r.offline ?? false })) ?? [],
})

const consumerReport = (stream: string, ci: ConsumerInfo): ConsumerReport => ({
  stream, consumer: ci.name, push: !!ci.config.deliver_subject, ackPolicy: String(ci.config.ack_policy),
  ackWaitMs: (ci.config.ack_wait ?? 0) / 1e6, filter: ci.config.filter_subject ?? "", ackPending: ci.num_ack_pending,
  redelivered: ci.num_redelivered, unprocessed: ci.num_pending, ackFloor: ci.ack_floor.stream_seq, delivered: ci.delivered.stream_seq,
  waiting: ci.num_waiting, leader: ci.cluster?.leader ?? null,
})

const keyReport = (e: NatsKvEntry): KeyReport => ({ key: e.key, revision: e.revision, operation: e.operation, created: e.created.getTime(), value: e.value })

/** The {@link Inspect} views on a NATS connection. */
export const natsInspect = (nc: NatsConnection): Inspect => {
  let jsmP: Promise<JetStreamManager> | undefined
  const jsm = () => (jsmP ??= jetstreamManager(nc, { timeout: 5_000, checkAPI: false }).catch((e) => {
    jsmP = undefined
    throw e
  }))
  const kvm = new Kvm(nc)
  /** The bucket's handle, after checking it exists (a bound handle otherwise fails on first use). */
  const bucket = async (name: string) => {
    await orNotFound(`KV_${name}`, async () => (await jsm()).streams.info(`KV_${name}`))
    return kvm.open(name)
  }
  return {
    async streams() {
      const out: StreamReport[] = []
      for await (const si of (await jsm()).streams.list()) out.push(streamReport(si))
      return out
    },
    stream: async (name) => orAbsent(async () => streamReport(await (await jsm()).streams.info(name))),
    async consumers(stream) {
      const m = await jsm()
      return (await orAbsent(async () => {
        const out: ConsumerReport[] = []
        for await (const ci of m.consumers.list(stream)) out.push(consumerReport(stream, ci))
        return out
      })) ?? []
    },
    consumer: async (stream, name) => orAbsent(async () => consumerReport(stream, await (await jsm()).consumers.info(stream, name))),
    async bucket(name) {
      const s = await (await bucket(name)).status()
      return { bucket: name, values: s.values, history: s.history, replicas: s.replicas, bytes: s.size }
    },
    async entries(name, keys) {
      const b = await bucket(name)
      // The Kv port's listing: each key once, though keys are written while it runs.
      const all = keys ? [...keys] : await natsKv(b).keys()
      const out: KeyReport[] = []
      for (const k of all.sort()) {
        const e = await b.get(k)
        if (e) out.push(keyReport(e))
      }
      return out
    },
    async history(name, key) {
      const out: KeyReport[] = []
      for await (const e of await (await bucket(name)).history({ key })) out.push(keyReport(e))
      return out
    },
  }
}
