import { Schema } from "effect"
import { wireMessage } from "./codec.ts"

// History queries, `akis.history` (ops/lib/history-service.ts): any process asks, a worker node
// answers from its store. The queries themselves are checked by actors/sink (HistoryInputInvalid).

const HistoryRequestSchema = Schema.Union([
  Schema.Struct({ op: Schema.Literal("summary") }),
  Schema.Struct({ op: Schema.Literals(["readings", "fleet", "alerts"]), query: Schema.Record(Schema.String, Schema.Unknown) }),
])
/** A request to a worker node's history store. */
export const HistoryRequestMessage = wireMessage("akis.history request", HistoryRequestSchema)

/** Why a history request failed, as the serving node says. */
export const historyFailureCodes = ["input", "store", "too_large", "request"] as const

const HistoryReplySchema = Schema.Union([
  Schema.Struct({ ok: Schema.Literal(true), result: Schema.Unknown }),
  Schema.Struct({
    ok: Schema.Literal(false),
    code: Schema.Literals(historyFailureCodes),
    message: Schema.String,
    field: Schema.optionalKey(Schema.String),
  }),
])
/** The serving node's answer. */
export const HistoryReply = wireMessage("akis.history answer", HistoryReplySchema)
export type HistoryReply = typeof HistoryReplySchema.Type
