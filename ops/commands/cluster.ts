import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { clusterView } from "../lib/cluster-view.ts"
import { Unreachable } from "../lib/cli/errors.ts"
import { configFlag, jsonFlag } from "../lib/cli/flags.ts"
import { withContext } from "../lib/context.ts"
import { age, table } from "../lib/table.ts"
import { DrainAnswer } from "../../runtime/wire.ts"

/** `ops cluster`: members and the shard map (owner, epoch, stream positions, lag). */
export const cluster = Command.make(
  "cluster",
  { json: jsonFlag, config: configFlag },
  Effect.fn(function* ({ json, config }) {
    const view = yield* withContext(config, clusterView)
    if (json) return yield* Console.log(JSON.stringify(view))
    yield* Console.log(`members (${view.members.length})\n` + table(
      ["node", "roles", "alive", "draining", "shards", "heartbeat", "version", "host/pid"],
      view.members.map((m) => [m.id, m.roles.join(","), m.alive ? "yes" : "NO", m.draining ? "yes" : "", m.shards, age(m.heartbeatAgeMs), m.version, `${m.host}/${m.pid}`]),
    ))
    yield* Console.log(`\nshards (P=${view.partitions}, ${view.partitions - view.unowned.length} owned${view.unowned.length ? `, UNOWNED: ${view.unowned.join(",")}` : ""})\n` + table(
      ["shard", "owner", "epoch", "checkpoint", "processed", "pending", "last batch", "actors"],
      view.shards.map((s) => [s.shard, s.owner, s.epoch, s.checkpointSeq, s.processedSeq, s.pendingBatches, age(s.lastBatchAgeMs), s.actors]),
    ))
  }),
).pipe(Command.withDescription("members (roles, version, heartbeat age) and the shard map with owner, epoch, stream position and lag"))

/** `ops drain <node>`: asks a node for a planned leave (hands over its shards, then stops). */
export const drain = Command.make(
  "drain",
  { node: Flag.String("node").pipe(Flag.withDescription("node id as shown by `ops cluster`")), config: configFlag },
  Effect.fn(function* ({ node, config }) {
    const unanswered = (m: string) => new Unreachable({ message: `node ${node} did not answer (${m}); see \`ops cluster\` for live node ids` })
    const reply = yield* withContext(config, async (ctx) => {
      // NoAnswer would be classified as unreachable too, but without naming the node
      const r = await ctx.bus.request(`akis.ctl.drain.${node}`, new Uint8Array(0), 3_000).catch((e: Error) => Promise.reject(unanswered(e.message)))
      return DrainAnswer.fromJson(r)
    }, unanswered)
    yield* Console.log(`draining ${node}: handing over ${reply.shards} shards`)
  }),
).pipe(Command.withDescription("planned handoff: the node hands its shards to the others and stops"))
