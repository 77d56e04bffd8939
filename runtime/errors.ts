import { Data } from "effect"

/** The cluster was created with another partition count; this node must not join it. */
export class PartitionMismatch extends Data.TaggedError("PartitionMismatch")<{
  readonly configured: number
  readonly cluster: number
}> {
  override get message() {
    return `this node is configured with ${this.configured} partitions but the cluster was created with ${this.cluster} ` +
      `(KV akis_config key "partitions"). Start the node with AKIS_CLUSTER__PARTITIONS=${this.cluster}, ` +
      `or create a new cluster (new NATS data) to change P.`
  }
}

/** Could not reach NATS (or JetStream) in time. */
export class NatsUnavailable extends Data.TaggedError("NatsUnavailable")<{
  readonly servers: ReadonlyArray<string>
  readonly cause?: unknown
}> {
  override get message() {
    return `cannot reach NATS at ${this.servers.join(", ")}: ${(this.cause as Error | undefined)?.message ?? "unknown error"}`
  }
}

/** A compare-and-set on a lease or checkpoint failed: another node owns the shard now. */
export class LeaseLost extends Data.TaggedError("LeaseLost")<{ readonly shard: number; readonly cause?: unknown }> {}

/** A checkpoint is larger than a KV value may be, and no object store was given to spill it to. */
export class CheckpointTooLarge extends Data.TaggedError("CheckpointTooLarge")<{ readonly shard: number; readonly bytes: number }> {}

/** A checkpoint's body in the object store is missing, or its bytes do not match the digest its KV entry names. */
export class CheckpointUnreadable extends Data.TaggedError("CheckpointUnreadable")<{
  readonly shard: number
  readonly object: string
  readonly reason: string
}> {
  override get message() {
    return `checkpoint of shard ${this.shard} is unreadable: object ${this.object} ${this.reason}`
  }
}

/** No owner answered for an actor before the deadline. */
export class ActorUnavailable extends Data.TaggedError("ActorUnavailable")<{
  readonly address: string
  readonly shard: number
  readonly waitedMs: number
  readonly cause?: unknown
}> {
  override get message() {
    return `no node answered for ${this.address} (shard ${this.shard}) within ${this.waitedMs} ms` +
      ((this.cause as Error | undefined)?.message ? `: ${(this.cause as Error).message}` : "")
  }
}

/** The actor has never received a message (nothing to show). */
export class ActorNotFound extends Data.TaggedError("ActorNotFound")<{ readonly address: string }> {
  override get message() {
    return `no actor ${this.address}: it has not received any message`
  }
}

/**
 * A stream, bucket or consumer exists with settings that contradict the configuration (other
 * replicas, subjects, limits...). The node refuses to use it rather than run on settings nobody chose.
 */
export class TopologyConflict extends Data.TaggedError("TopologyConflict")<{
  readonly name: string
  readonly differences: ReadonlyArray<string>
}> {
  override get message() {
    return `${this.name} exists with settings that contradict the configuration: ${this.differences.join("; ")}. ` +
      `Change the configuration to match, or (as admin) run \`bun run ops topology apply\` to update what NATS allows ` +
      `to be updated (replicas, limits, subjects); retention and storage need the stream recreated.`
  }
}

/** A stream or bucket is missing and this process's credentials may not create it (or a row is misused). */
export class TopologyUnavailable extends Data.TaggedError("TopologyUnavailable")<{ readonly message: string }> {}

/** A role's NATS credentials file is missing: a clear message instead of "Authorization Violation". */
export class NatsCredentialsMissing extends Data.TaggedError("NatsCredentialsMissing")<{ readonly path: string; readonly role: string }> {
  override get message() {
    return `NATS credentials for role ${this.role} not found at ${this.path}: create them with \`bun run ops nats-auth init\` ` +
      `(and start nats-server with the generated auth.conf), or set nats.credsDir: "" for a NATS without authentication`
  }
}

/** A credentials operation that cannot be done as asked (e.g. a rotation already under way). */
export class NatsCredentialsError extends Data.TaggedError("NatsCredentialsError")<{ readonly message: string }> {}

/**
 * A KV compare-and-set did not match: the key was not at the expected revision (or, for a create,
 * already held a value). Translated once from NATS's "wrong last sequence" (runtime/nats/kv.ts).
 */
export class KvConflict extends Data.TaggedError("KvConflict")<{ readonly key: string; readonly cause?: unknown }> {
  override get message() {
    return `KV key ${this.key} is not at the expected revision`
  }
}

/** A core request got no answer (nobody subscribed, or nobody answered in time). */
export class NoAnswer extends Data.TaggedError("NoAnswer")<{ readonly subject: string; readonly cause?: unknown }> {
  override get message() {
    return `no answer on ${this.subject}`
  }
}

/** No stream by that name, or none that takes a published subject (the in-memory JetStream twin). */
export class StreamNotFound extends Data.TaggedError("StreamNotFound")<{ readonly stream?: string; readonly subject?: string }> {
  override get message() {
    return this.stream !== undefined ? `stream ${this.stream} not found` : `no stream takes subject ${this.subject}`
  }
}

/** The actor's owner answered a query with an error (unknown kind, bad request). */
export class ActorQueryFailed extends Data.TaggedError("ActorQueryFailed")<{
  readonly address: string
  readonly error: string
  readonly detail?: string | undefined
}> {
  override get message() {
    return this.detail ?? this.error
  }
}
