import { Schema } from "effect"
import { wireMessage } from "./codec.ts"

// History queries, `akis.history` (ops/lib/history-service.ts): any process asks, a worker node
// answers from its store.

// Types only: values (ranges, names, limits) are checked by the query functions, which name the field.
const opt = <S extends Schema.Top>(s: S) => Schema.optionalKey(Schema.UndefinedOr(s))
const ReadingsQuery = Schema.Struct({
  device: Schema.String, from: Schema.Number, to: Schema.Number,
  fields: opt(Schema.Array(Schema.String)), points: opt(Schema.Number), limit: opt(Schema.Number),
})
const FleetQuery = Schema.Struct({
  field: Schema.String, from: Schema.Number, to: Schema.Number,
  by: Schema.Literals(["device", "minute", "total"]), limit: opt(Schema.Number),
})
const AlertsQuery = Schema.Struct({
  from: Schema.Number, to: Schema.Number, device: opt(Schema.String), rule: opt(Schema.String),
  severity: opt(Schema.Literals(["info", "warning", "critical"])), limit: opt(Schema.Number),
})
const HistoryRequestSchema = Schema.Union([
  Schema.Struct({ op: Schema.Literal("summary") }),
  Schema.Struct({ op: Schema.Literal("readings"), query: ReadingsQuery }),
  Schema.Struct({ op: Schema.Literal("fleet"), query: FleetQuery }),
  Schema.Struct({ op: Schema.Literal("alerts"), query: AlertsQuery }),
])
/** A request to a worker node's history store. */
export const HistoryRequestMessage = wireMessage("akis.history request", HistoryRequestSchema)
export type HistoryRequestMessage = typeof HistoryRequestSchema.Type

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
