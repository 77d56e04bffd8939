import { Schema } from "effect"
import type { AlertTransition as Transition } from "../alert.ts"
import { wireMessage } from "./codec.ts"

// Messages on stream AKIS_ALERTS: alert transitions (`akis.alerts.<severity>.<device>`, published
// by the shard hosts) and explanation annotations (`akis.alerts.explanation.<device>`, published
// by the interpreter). The sink, the interpreter, the notifier and the API read them back.

const TransitionSchema = Schema.Struct({
  id: Schema.String,
  alertId: Schema.String,
  device: Schema.String,
  rule: Schema.String,
  kind: Schema.Literals(["raised", "escalated", "cleared"]),
  severity: Schema.Literals(["info", "warning", "critical"]),
  at: Schema.Number,
  // Optional on the wire (older writers, hand-made messages); read back with the defaults below.
  seq: Schema.optionalKey(Schema.Number),
  message: Schema.optionalKey(Schema.String),
  values: Schema.optionalKey(Schema.Record(Schema.String, Schema.Number)),
  channels: Schema.optionalKey(Schema.Array(Schema.String)),
  ruleVersion: Schema.optionalKey(Schema.Number),
  recvAt: Schema.optionalKey(Schema.Number),
})
const transition = wireMessage("alert transition", TransitionSchema)

const withDefaults = (t: typeof TransitionSchema.Type): Transition => ({
  id: t.id, alertId: t.alertId, device: t.device, rule: t.rule, kind: t.kind, severity: t.severity, at: t.at,
  seq: t.seq ?? 0, message: t.message ?? "", values: t.values ?? {}, channels: t.channels ?? [],
  ruleVersion: t.ruleVersion ?? 0, recvAt: t.recvAt ?? 0,
})

/**
 * An alert transition on the wire. Decoding fills the optional fields (seq, message, values,
 * channels, ruleVersion, recvAt) with 0 / "" / empty; range checks against what a table can hold
 * stay with the table's writer (actors/sink/alerts.ts).
 */
export const AlertTransitionMessage = {
  name: transition.name,
  schema: transition.schema,
  decode: (input: unknown): Transition => withDefaults(transition.decode(input)),
  fromJson: (data: Uint8Array | string): Transition => withDefaults(transition.fromJson(data)),
  toJson: (t: Transition): string => transition.toJson(t),
  toBytes: (t: Transition): Uint8Array => transition.toBytes(t),
}

const ExplanationSchema = Schema.Struct({
  kind: Schema.Literal("explanation"),
  transitionId: Schema.String,
  alertId: Schema.String,
  device: Schema.String,
  rule: Schema.String,
  at: Schema.Number,
  text: Schema.String,
  model: Schema.optionalKey(Schema.String),
  createdAt: Schema.optionalKey(Schema.Number),
  latencyMs: Schema.optionalKey(Schema.Number),
  cached: Schema.optionalKey(Schema.Boolean),
})
const explanation = wireMessage("explanation annotation", ExplanationSchema)

/** An explanation as read back: the optional fields filled ("" / 0 / false). */
export interface ExplanationRecord {
  readonly kind: "explanation"
  readonly transitionId: string
  readonly alertId: string
  readonly device: string
  readonly rule: string
  readonly at: number
  readonly model: string
  readonly text: string
  readonly createdAt: number
  readonly latencyMs: number
  readonly cached: boolean
}

const explanationDefaults = (v: typeof ExplanationSchema.Type): ExplanationRecord => ({
  kind: "explanation", transitionId: v.transitionId, alertId: v.alertId, device: v.device, rule: v.rule, at: v.at,
  model: v.model ?? "", text: v.text, createdAt: v.createdAt ?? 0, latencyMs: v.latencyMs ?? 0, cached: v.cached ?? false,
})

/** An explanation annotation on the wire (actors/interpreter writes it). */
export const ExplanationMessage = {
  name: explanation.name,
  schema: explanation.schema,
  decode: (input: unknown): ExplanationRecord => explanationDefaults(explanation.decode(input)),
  fromJson: (data: Uint8Array | string): ExplanationRecord => explanationDefaults(explanation.fromJson(data)),
  toJson: (x: ExplanationRecord): string => explanation.toJson(x),
  toBytes: (x: ExplanationRecord): Uint8Array => explanation.toBytes(x),
}
