import type { NatsConnection } from "@nats-io/transport-node"
import { ActorNotFound, ActorUnavailable } from "./errors.ts"
import { rpcSubject, shardOf } from "./shard.ts"
import { ActorReply, ActorRequest } from "./wire.ts"

/** Options of {@link askActor}. */
export interface AskOptions {
  /** Total time to keep trying (handoffs and failovers in between are retried). */
  readonly timeoutMs?: number
  /** Time to wait for one answer. */
  readonly attemptMs?: number
}

/**
 * Sends a query to actor `<kind>/<id>` on whichever node owns its shard (`akis.rpc.<shard>`),
 * retrying while the shard has no owner (handoff, failover) until `timeoutMs`.
 * Fails with ActorUnavailable on timeout and ActorNotFound when the actor has no state.
 */
export const askActor = async <R = unknown>(
  nc: NatsConnection,
  partitions: number,
  kind: string,
  id: string,
  request: unknown = {},
  opts: AskOptions = {},
): Promise<R> => {
  const timeoutMs = opts.timeoutMs ?? 10_000
  const shard = shardOf(id, partitions)
  const started = Date.now()
  const address = `${kind}/${id}`
  const payload = ActorRequest.toBytes({ kind, id, request })
  let delay = 50
  let last: unknown
  while (Date.now() - started < timeoutMs) {
    try {
      const m = await nc.request(rpcSubject(shard), payload, { timeout: Math.min(opts.attemptMs ?? 2_000, timeoutMs) })
      const reply = ActorReply.fromJson(m.data) // a malformed answer is a WireDecodeError: kept as the cause, retried
      // The owner's kind answers with its own result type; the caller names it (R), as with any RPC.
      if (reply.ok) return reply.result as R
      if (reply.error === "not_found") throw new ActorNotFound({ address })
      last = new Error(reply.message ?? reply.error)
    } catch (e) {
      if (e instanceof ActorNotFound) throw e
      last = e // no responders (no owner right now) or timeout: retry
    }
    await Bun.sleep(delay)
    delay = Math.min(delay * 2, 500)
  }
  throw new ActorUnavailable({ address, shard, waitedMs: Date.now() - started, cause: last })
}
