/**
 * The ports through which the cluster core (leases, membership, checkpoints, shard hosts, the
 * node), the actors (alert writer, notifier, interpreter) and the gateway reach NATS: a KV
 * bucket, JetStream publish and ordered consume, core request/reply, an object store
 * ({@link BlobStore}), and setting up ({@link Setup}). Shaped by their call sites, no wider. Each has a NATS
 * adapter (kv.ts, jetstream.ts, bus.ts, blob-store.ts, setup.ts) that translates NATS errors once into
 * tagged errors ({@link KvConflict}), and an in-memory twin (memory-*.ts) that behaves the same:
 * revisions, compare-and-set, deliver-from-sequence, msg-id dedupe. Nothing outside runtime/nats
 * imports `@nats-io/*` for these.
 */
export type { BlobRef, BlobStore } from "./blob-store.ts"
import type { TopologyLog, TopologyOptions } from "./topology.ts"

// --- KV ---

/** One stored value of a key, or its delete marker. */
export interface KvEntry {
  readonly key: string
  /** Stream sequence of the write: the CAS token. */
  readonly revision: number
  readonly operation: "PUT" | "DEL" | "PURGE"
  readonly value: Uint8Array
}

/** An entry as a watch delivers it. */
export interface KvWatchEntry extends KvEntry {
  /** Writes the watch had still to deliver after this one when it was delivered: 0 once the watch has caught up. */
  readonly delta: number
}

/** A running watch; iteration ends after {@link stop} (or when the connection gives up). */
export interface KvWatch extends AsyncIterable<KvWatchEntry> {
  stop(): void
}

/**
 * A KV bucket. Every write returns the new revision; `create`, `update` and a delete with
 * `previousSeq` are compare-and-set and fail with {@link KvConflict} when the key is not where the
 * caller expected it.
 */
export interface Kv {
  /** The latest entry of `key` (a DEL/PURGE marker included), or null when it never existed. */
  get(key: string): Promise<KvEntry | null>
  put(key: string, value: Uint8Array | string): Promise<number>
  /** Writes only when the key is absent or deleted; KvConflict when it holds a value. */
  create(key: string, value: Uint8Array | string): Promise<number>
  /** Writes only when the key's revision is `revision`; KvConflict otherwise. */
  update(key: string, value: Uint8Array | string, revision: number): Promise<number>
  /** Deletes (a DEL marker); with `previousSeq`, only when that is the key's revision (KvConflict otherwise). */
  delete(key: string, opts?: { readonly previousSeq?: number }): Promise<void>
  /**
   * The latest entry of every key (deletes included), then every later write, in revision order.
   * With `fromRevision`, every write from that revision on instead; with `key`, only keys it
   * matches (`*` / `>` wildcards as in subjects).
   */
  watch(opts?: { readonly fromRevision?: number; readonly key?: string }): Promise<KvWatch>
  /** Keys that hold a value now; with `filter`, those it matches (`*` / `>` wildcards). */
  keys(filter?: string): Promise<string[]>
}

/** A bucket read with its history (the rules bucket keeps 64 revisions per key); the adapter and the twin are both. */
export interface HistoryKv extends Kv {
  /** Every revision of `key` the bucket keeps (its history setting), oldest first, deletes included. */
  history(key: string): Promise<KvEntry[]>
}

// --- JetStream: publish and ordered consume ---

/** What a publish stored: its sequence, or that the msg id was seen within the duplicate window. */
export interface PubAck {
  readonly seq: number
  readonly duplicate: boolean
}

/** Publish options: the msg id dedupes within the stream's duplicate window. */
export interface PublishOptions {
  readonly msgId?: string | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** How long to wait for the PubAck (default: the connection's). */
  readonly timeoutMs?: number | undefined
}

/** A delivered stream message (a NATS JsMsg satisfies it as is: no copy on the hot path). */
export interface StreamMsg {
  readonly subject: string
  readonly seq: number
  readonly data: Uint8Array
  /** Messages on the consumer's filter after this one, when it was delivered. */
  readonly info: { readonly pending: number }
}

/** Messages of an ordered consumer, in sequence order; iteration ends after {@link close}. */
export interface MessageFeed extends AsyncIterable<StreamMsg> {
  close(): Promise<unknown>
}

/** An ordered (ephemeral) consumer on one subject filter of a stream. */
export interface OrderedConsumer {
  /** Messages not yet delivered, asked from the server now; with `atCreation`, as counted when the consumer was made (no request). */
  pending(atCreation?: boolean): Promise<number>
  /** Starts delivery (once per consumer). */
  consume(opts: { readonly maxMessages: number; readonly expiresMs: number }): Promise<MessageFeed>
}

/** First and last sequence a stream holds now (first = last + 1 when empty). */
export interface StreamState {
  readonly firstSeq: number
  readonly lastSeq: number
  readonly messages: number
}

/** A message of a durable consumer: acked once handled; unacked, it comes again after the ack wait. */
export interface AckableMsg extends StreamMsg {
  ack(): void
  /** Still working on it: the ack wait starts again. */
  working(): void
}

/**
 * A durable pull consumer (the alert writer's): each fetch returns up to `maxMessages` messages,
 * those whose ack wait ran out first; waits up to `expiresMs` (at least 1,000: NATS refuses less)
 * when there are none.
 */
export interface DurableConsumer {
  fetch(opts: { readonly maxMessages: number; readonly expiresMs: number }): Promise<AsyncIterable<AckableMsg>>
}

/** JetStream as the shard host uses it: publish to whichever stream takes the subject, read one back in order. */
export interface JetStream {
  publish(subject: string, data: Uint8Array, opts?: PublishOptions): Promise<PubAck>
  streamState(stream: string): Promise<StreamState>
  /** An ordered consumer on `filterSubject` of `stream`, from `startSeq` (default: the first message). */
  orderedConsumer(stream: string, opts: { readonly filterSubject: string; readonly startSeq?: number }): Promise<OrderedConsumer>
  /** An existing durable consumer of `stream` (created from the topology table). */
  durableConsumer(stream: string, name: string): Promise<DurableConsumer>
}

// --- Core NATS: request/reply and plain publish ---

/** A received core message; `respond` answers a request. */
export interface BusMsg {
  readonly subject: string
  readonly reply?: string | undefined
  readonly data: Uint8Array
  respond(data: Uint8Array): boolean
}

/** Core publish/subscribe and request/reply (control plane, actor queries). */
export interface Bus {
  /**
   * Subscribes to a subject (`*` / `>` wildcards allowed); `handler` runs for each message. With
   * `queue`, each message goes to one subscriber of that queue group only.
   */
  subscribe(subject: string, handler: (m: BusMsg) => void, opts?: { readonly queue?: string }): { unsubscribe(): void }
  publish(subject: string, data?: Uint8Array): void
  /** One answer, or a rejection when nobody answers in `timeoutMs`. */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>
}

// --- Setting up: rows of the topology table, durable consumers of a component's own, buckets ---

/** A durable pull consumer as a component asks for it (the notifier's, the interpreter's). */
export interface DurableSpec {
  readonly name: string
  /** Redelivery delay of a message delivered and not acked (its node went silent). */
  readonly ackWaitMs: number
  /** Messages delivered and not acked, at most. */
  readonly maxAckPending: number
  /** A consumer created now starts at the first message stored at or after this time (epoch ms); default: the stream's first. */
  readonly startAt?: number | undefined
}

/**
 * What a component sets up before it reads and writes: rows of the topology table
 * (runtime/nats/topology.ts), durable consumers of its own, KV buckets.
 */
export interface Setup {
  /**
   * Checks the rows named (streams and buckets by name, consumers by key), creating what is
   * missing; `TopologyConflict` when one exists with settings that contradict `o`.
   */
  ensure(only: ReadonlyArray<string>, o: TopologyOptions, log?: TopologyLog): Promise<void>
  /** Creates a durable consumer when absent; an existing one keeps its position, its ack wait and max ack pending follow `d`. */
  ensureDurable(stream: string, d: DurableSpec): Promise<void>
  /**
   * Opens a KV bucket: the table's row of that name (checked, created when missing), or, for a
   * name not in the table, a history-1 bucket of its own whose values expire `own.ttlMs` after
   * their last write (created when missing). TopologyUnavailable for another name without `own`.
   */
  bucket(name: string, o: TopologyOptions, own?: { readonly ttlMs: number }): Promise<Kv>
}

/** The ports of one NATS connection, as actors/ and gateway/ take them (natsPorts / MemoryNats). */
export interface NatsPorts {
  readonly js: JetStream
  readonly bus: Bus
  readonly setup: Setup
  /** False while the connection is down (reconnecting) or closed: a caller that must not queue work fails at once. */
  connected(): boolean
}

export { KvConflict } from "../errors.ts"
