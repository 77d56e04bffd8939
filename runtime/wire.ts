/**
 * The wire protocol: every message that crosses a process boundary as JSON or msgpack (control
 * plane, actor RPC, history queries, alert transitions and explanations, checkpoint envelopes, KV
 * records), as Effect Schemas both ends import. Decoding never casts: a message that is not what
 * its schema says is a WireDecodeError naming the message, the path and what was expected.
 * Telemetry batches (msgpack columns on AKIS_TLM) are runtime/batch.ts, not here.
 */
export { WireDecodeError, isWireDecodeError, logFirstOfEach, orUndefined, wireMessage, wireUnion, type WireMessage } from "./wire/codec.ts"
export { StatsRequest, NodeStats, DrainAnswer, LagReport, lagSubject, type ShardStats } from "./wire/control.ts"
export { ActorRequest, ActorReply } from "./wire/rpc.ts"
export { HistoryRequestMessage, HistoryReply, historyFailureCodes } from "./wire/history.ts"
export { AlertTransitionMessage, ExplanationMessage, type ExplanationRecord } from "./wire/alerts.ts"
export { CheckpointEnvelope, type CheckpointPointer } from "./wire/checkpoint.ts"
export {
  MemberRecord, LeaseRecord, TokenRecordMessage, AuditRecordMessage, AlertNoteMessage, NotifierLeaseRecord, NotifyMarksRecord,
} from "./wire/records.ts"
