import type { ActorKind } from "./actor-kind.ts"
import { fromRequester } from "./nats/guard.ts"
import type { Bus } from "./nats/ports.ts"
import { rpcSubject } from "./shard.ts"
import { ActorReply, ActorRequest } from "./wire.ts"

/** What a shard's RPC endpoint answers from: the kind and a read-only look at an actor's state. */
export interface ShardRpcDeps {
  readonly bus: Bus
  readonly shard: number
  readonly kind: ActorKind<unknown>
  /** The actor's state, live or passive, without activating it; undefined when it has none. */
  readonly peek: (id: string) => unknown
}

/** The answer to one decoded query (pure but for `peek`). */
export const answerRequest = (d: ShardRpcDeps, req: ActorRequest): ActorReply => {
  try {
    if (req.kind !== d.kind.name) return { ok: false, error: "unknown_kind", message: `no actor kind '${req.kind}'` }
    const state = d.peek(req.id)
    return state === undefined
      ? { ok: false, error: "not_found" }
      : { ok: true, shard: d.shard, result: d.kind.query(state, req.request) }
  } catch (e) {
    return { ok: false, error: "bad_request", message: String(e) }
  }
}

/** The answer to one query as it came over the bus (pure but for `peek`). */
export const answerQuery = (d: ShardRpcDeps, data: Uint8Array): ActorReply => {
  let req: ActorRequest
  try {
    req = ActorRequest.fromJson(data) // a WireDecodeError names the bad field in the answer
  } catch (e) {
    return { ok: false, error: "bad_request", message: String(e) }
  }
  return answerRequest(d, req)
}

/** A shard's query endpoint while the shard is served. */
export interface ShardRpc {
  unsubscribe(): void
  /**
   * Answers a request in-process, as the subscription would, without its JSON in either direction
   * (a caller on the owning node skips NATS: askActor's `local`). A kind's query builds a fresh
   * result, so handing it over as is shares nothing with the actor's state.
   */
  answer(request: ActorRequest): ActorReply
}

/**
 * Answers actor queries on `akis.rpc.<shard>` (askActor in router.ts) while the shard is held.
 * Messages a consumer delivered onto the subject, not asked by a requester, are ignored (guard.ts).
 */
export const serveShardRpc = (d: ShardRpcDeps): ShardRpc => {
  const subject = rpcSubject(d.shard)
  const sub = d.bus.subscribe(subject, (m) => {
    if (!fromRequester(m, subject)) return
    m.respond(ActorReply.toBytes(answerQuery(d, m.data)))
  })
  return { unsubscribe: () => sub.unsubscribe(), answer: (request) => answerRequest(d, request) }
}
