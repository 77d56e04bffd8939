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

/** The answer to one query (pure but for `peek`). */
export const answerQuery = (d: ShardRpcDeps, data: Uint8Array): ActorReply => {
  try {
    const req = ActorRequest.fromJson(data) // a WireDecodeError names the bad field in the answer
    if (req.kind !== d.kind.name) return { ok: false, error: "unknown_kind", message: `no actor kind '${req.kind}'` }
    const state = d.peek(req.id)
    return state === undefined
      ? { ok: false, error: "not_found" }
      : { ok: true, shard: d.shard, result: d.kind.query(state, req.request) }
  } catch (e) {
    return { ok: false, error: "bad_request", message: String(e) }
  }
}

/** A shard's query endpoint while the shard is served. */
export interface ShardRpc {
  unsubscribe(): void
  /** Answers a request in-process, as the subscription would (a caller on the owning node skips NATS: askActor's `local`). */
  answer(request: Uint8Array): Uint8Array
}

/**
 * Answers actor queries on `akis.rpc.<shard>` (askActor in router.ts) while the shard is held.
 * Messages a consumer delivered onto the subject, not asked by a requester, are ignored (guard.ts).
 */
export const serveShardRpc = (d: ShardRpcDeps): ShardRpc => {
  const subject = rpcSubject(d.shard)
  const answer = (request: Uint8Array) => ActorReply.toBytes(answerQuery(d, request))
  const sub = d.bus.subscribe(subject, (m) => {
    if (!fromRequester(m, subject)) return
    m.respond(answer(m.data))
  })
  return { unsubscribe: () => sub.unsubscribe(), answer }
}
