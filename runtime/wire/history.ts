import { Schema } from "effect"
import { wireUnion } from "./codec.ts"

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
const HistoryRequestSchemas = {
  summary: Schema.Struct({ op: Schema.Literal("summary") }),
  readings: Schema.Struct({ op: Schema.Literal("readings"), query: ReadingsQuery }),
  fleet: Schema.Struct({ op: Schema.Literal("fleet"), query: FleetQuery }),
  alerts: Schema.Struct({ op: Schema.Literal("alerts"), query: AlertsQuery }),
}
/** A request to a worker node's history store. */
export const HistoryRequestMessage = wireUnion("akis.history request", "op", HistoryRequestSchemas)
export type HistoryRequestMessage = (typeof HistoryRequestSchemas)[keyof typeof HistoryRequestSchemas]["Type"]

/** Why a history request failed, as the serving node says. */
export const historyFailureCodes = ["input", "store", "too_large", "request"] as const

const HistoryReplySchemas = {
  true: Schema.Struct({ ok: Schema.Literal(true), result: Schema.Unknown }),
  false: Schema.Struct({
    ok: Schema.Literal(false),
    code: Schema.Literals(historyFailureCodes),
    message: Schema.String,
    field: Schema.optionalKey(Schema.String),
  }),
}
/** The serving node's answer. */
export const HistoryReply = wireUnion("akis.history answer", "ok", HistoryReplySchemas)
export type HistoryReply = (typeof HistoryReplySchemas)[keyof typeof HistoryReplySchemas]["Type"]
