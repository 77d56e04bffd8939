import { Schema } from "effect"
import { wireMessage } from "./codec.ts"

// Records that one process writes into a KV bucket and others read back.

const MemberInfoSchema = Schema.Struct({
  id: Schema.String,
  roles: Schema.Array(Schema.String),
  version: Schema.String,
  pid: Schema.Number,
  host: Schema.String,
  startedAt: Schema.Number,
  draining: Schema.Boolean,
  hb: Schema.Number,
  at: Schema.Number,
})
/** A node's heartbeat in `akis_members` (key `<node id>`), runtime/membership.ts. */
export const MemberRecord = wireMessage("akis_members heartbeat", MemberInfoSchema)

const LeaseSchema = Schema.Struct({ owner: Schema.String, epoch: Schema.Number, at: Schema.Number })
/** A shard lease in `akis_shards` (key `shard.<n>`), runtime/leases.ts. */
export const LeaseRecord = wireMessage("akis_shards lease", LeaseSchema)

const TokenSchema = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  role: Schema.Literals(["viewer", "operator", "admin"]),
  hash: Schema.String,
  createdAt: Schema.Number,
  expiresAt: Schema.NullOr(Schema.Number),
  revokedAt: Schema.NullOr(Schema.Number),
  createdBy: Schema.String,
})
/** An API token in `akis_tokens` (key `t.<id>`), gateway/http/store.ts. */
export const TokenRecordMessage = wireMessage("akis_tokens token", TokenSchema)

const AuditSchema = Schema.Struct({
  at: Schema.Number,
  actor: Schema.String,
  role: Schema.Literals(["viewer", "operator", "admin", "cli"]),
  action: Schema.String,
  target: Schema.String,
  detail: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown)),
})
/** An audit record in `akis_audit` (key `log.<ms>.<rand>`). */
export const AuditRecordMessage = wireMessage("akis_audit record", AuditSchema)

const NoteSchema = Schema.Struct({
  alertId: Schema.String,
  at: Schema.Number,
  by: Schema.String,
  kind: Schema.Literals(["ack", "comment"]),
  text: Schema.String,
})
/** An operator's note on an alert in `akis_audit` (key `note.<hex alert id>.<ms>.<rand>`). */
export const AlertNoteMessage = wireMessage("akis_audit alert note", NoteSchema)

const NotifierLeaseSchema = Schema.Struct({ holder: Schema.String, at: Schema.Number })
/** The notifier leader's lease (actors/notifier/lease.ts). */
export const NotifierLeaseRecord = wireMessage("notifier lease", NotifierLeaseSchema)

const pairs = <V extends Schema.Top>(v: V) => Schema.Array(Schema.Tuple([Schema.String, v]))
const HeldReason = Schema.Literals(["unknown_channel", "filtered", "throttled", "capped", "clear_not_notified"])
const DecisionSchema = Schema.Union([
  Schema.Struct({ channel: Schema.String, action: Schema.Literals(["send", "digest"]), key: Schema.String }),
  Schema.Struct({ channel: Schema.String, action: Schema.Literal("held"), reason: HeldReason }),
])
// Every field optional: a state written before a field existed still loads (with that field empty).
const NotifyMarksSchema = Schema.Struct({
  lastSent: Schema.optionalKey(pairs(Schema.Number)),
  notified: Schema.optionalKey(pairs(Schema.Number)),
  capCount: Schema.optionalKey(pairs(Schema.Number)),
  windowCount: Schema.optionalKey(pairs(Schema.Number)),
  digestPart: Schema.optionalKey(pairs(Schema.Struct({ part: Schema.Number, flushed: Schema.Boolean }))),
  decided: Schema.optionalKey(pairs(Schema.Struct({ at: Schema.Number, decisions: Schema.Array(DecisionSchema) }))),
  watermark: Schema.optionalKey(Schema.Number),
})
/** The notifier's persisted throttle marks and decisions (actors/notifier/core.ts encodeState). */
export const NotifyMarksRecord = wireMessage("notifier state", NotifyMarksSchema)
