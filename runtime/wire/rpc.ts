import { Schema } from "effect"
import { wireMessage, wireUnion } from "./codec.ts"

// Actor queries, `akis.rpc.<shard>`: askActor (runtime/router.ts) asks, the shard's owner answers.

const ActorRequestSchema = Schema.Struct({
  kind: Schema.String,
  id: Schema.String,
  /** The kind's own query (e.g. the device actor's `{ view: "windows" }`), checked by the kind. */
  request: Schema.optionalKey(Schema.Unknown),
})
/** A query for actor `<kind>/<id>`. */
export const ActorRequest = wireMessage("akis.rpc request", ActorRequestSchema)
export type ActorRequest = typeof ActorRequestSchema.Type

const ActorReplySchemas = {
  true: Schema.Struct({ ok: Schema.Literal(true), shard: Schema.optionalKey(Schema.Number), result: Schema.optionalKey(Schema.Unknown) }),
  false: Schema.Struct({
    ok: Schema.Literal(false),
    /** `not_found` (the actor has no state), `unknown_kind`, `bad_request` (the request did not decode). */
    error: Schema.String,
    message: Schema.optionalKey(Schema.String),
  }),
}
/** The owner's answer: the kind's result, or why there is none. */
export const ActorReply = wireUnion("akis.rpc answer", "ok", ActorReplySchemas)
export type ActorReply = (typeof ActorReplySchemas)[keyof typeof ActorReplySchemas]["Type"]
