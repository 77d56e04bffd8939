import { Schema } from "effect"
import { wireMessage } from "./codec.ts"

// The control plane, `akis.ctl.*`. `released.<shard>` carries no body (a released shard is picked
// up at once by its new owner); `stats.<node>` and `drain.<node>` are requests from `ops`;
// `lag.<node>` is a node's intake lag, published every heartbeat for the gateways' admission.

const StatsRequestSchema = Schema.Struct({ gc: Schema.optionalKey(Schema.Boolean) })
/** Body of an `akis.ctl.stats.<node>` request: empty, or `{"gc":true}` to collect garbage first. */
export const StatsRequest = wireMessage("akis.ctl.stats request", StatsRequestSchema)
export type StatsRequest = typeof StatsRequestSchema.Type

const ShardStatsSchema = Schema.Record(Schema.String, Schema.NullOr(Schema.Number))
/** One shard's figures in a stats answer (`shard`, `epoch`, `processedSeq`, …; null where not known yet). */
export type ShardStats = typeof ShardStatsSchema.Type

const NodeStatsSchema = Schema.Struct({
  node: Schema.String,
  draining: Schema.Boolean,
  memory: Schema.Struct({ rss: Schema.Number, heapUsed: Schema.Number }),
  shards: Schema.Array(ShardStatsSchema),
})
/** Answer to `akis.ctl.stats.<node>`. */
export const NodeStats = wireMessage("akis.ctl.stats answer", NodeStatsSchema)
export type NodeStats = typeof NodeStatsSchema.Type

const DrainAnswerSchema = Schema.Struct({ ok: Schema.Boolean, node: Schema.String, shards: Schema.Number })
/** Answer to `akis.ctl.drain.<node>`: the node accepted and hands off its `shards` shards. */
export const DrainAnswer = wireMessage("akis.ctl.drain answer", DrainAnswerSchema)
export type DrainAnswer = typeof DrainAnswerSchema.Type

const LagReportSchema = Schema.Struct({
  node: Schema.String,
  /** The largest number of batches any shard of the node had still to read, when it last read one. */
  lagBatches: Schema.Number,
  /** That shard (null when the node holds none). */
  shard: Schema.NullOr(Schema.Number),
})
/** Body of `akis.ctl.lag.<node>`: how far behind the node's most lagging shard is. */
export const LagReport = wireMessage("akis.ctl.lag report", LagReportSchema)
export type LagReport = typeof LagReportSchema.Type

/** The subject a node publishes its {@link LagReport} on. */
export const lagSubject = (node: string): string => `akis.ctl.lag.${node}`
