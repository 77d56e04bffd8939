import { systemClock, type Clock } from "./clock.ts"
import { ActorNotFound, ActorQueryFailed, ActorUnavailable } from "./errors.ts"
import { retry } from "./retry.ts"
import { rpcSubject, shardOf } from "./shard.ts"
import { ActorReply, ActorRequest } from "./wire.ts"

/** Options of {@link askActor}. */
export interface AskOptions {
  /** Total time to keep trying (handoffs and failovers in between are retried). */
  readonly timeoutMs?: number
  /** Time to wait for one answer. */
  readonly attemptMs?: number
  /** Clock of the waits between attempts (default the system clock). */
  readonly clock?: Clock
  /**
   * The query endpoint of `shard` when this process serves it (ShardHost.queries), else undefined:
   * such a query is answered in-process instead of through nats-server and back.
   */
  readonly local?: (shard: number) => { answer(request: ActorRequest): ActorReply } | undefined
}

/** What askActor needs of a connection: one request/reply (a NATS connection is one). */
export interface Requester {
  request(subject: string, payload: Uint8Array, opts: { timeout: number }): Promise<{ readonly data: Uint8Array }>
}

/**
 * Sends a query to actor `<kind>/<id>` on whichever node owns its shard (`akis.rpc.<shard>`),
 * retrying while the shard has no owner (handoff, failover) until `timeoutMs`.
 * Fails with ActorUnavailable on timeout and ActorNotFound when the actor has no state.
 */
export const askActor = async <R = unknown>(
  nc: Requester,
  partitions: number,
  kind: string,
  id: string,
  request: unknown = {},
  opts: AskOptions = {},
): Promise<R> => {
  const timeoutMs = opts.timeoutMs ?? 10_000
  const clock = opts.clock ?? systemClock
  const shard = shardOf(id, partitions)
  const started = clock.now()
  const address = `${kind}/${id}`
  const query: ActorRequest = { kind, id, request }
  let payload: Uint8Array | undefined
  try {
    return await retry(async () => {
      const endpoint = opts.local?.(shard)
      const reply = endpoint
        ? endpoint.answer(query)
        // a malformed answer is a WireDecodeError: kept as the cause, retried
        : ActorReply.fromJson((await nc.request(rpcSubject(shard), (payload ??= ActorRequest.toBytes(query)), { timeout: Math.min(opts.attemptMs ?? 2_000, timeoutMs) })).data)
      // The owner's kind answers with its own result type; the caller names it (R), as with any RPC.
      if (reply.ok) return reply.result as R
      if (reply.error === "not_found") throw new ActorNotFound({ address })
      throw new ActorQueryFailed({ address, error: reply.error ?? "error", detail: reply.message })
    }, {
      clock,
      // no responders (no owner right now), a timeout or a failed answer: retry until the deadline
      backoff: { initialMs: 50, maxMs: 500, jitter: 0 },
      deadlineMs: timeoutMs,
      retryable: (e) => !(e instanceof ActorNotFound),
    })
  } catch (e) {
    if (e instanceof ActorNotFound) throw e
    throw new ActorUnavailable({ address, shard, waitedMs: clock.now() - started, cause: e })
  }
}
