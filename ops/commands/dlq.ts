import { Console, Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { listDeadLetters, replayDeadLetter } from "../../runtime/index.ts"
import { configFlag, jsonFlag } from "../lib/cli/flags.ts"
import { withContext } from "../lib/context.ts"
import { table } from "../lib/table.ts"

const list = Command.make(
  "list",
  { limit: Flag.Int("limit").pipe(Flag.withDescription("newest N"), Flag.withDefault(100)), json: jsonFlag, config: configFlag },
  Effect.fn(function* ({ limit, json, config }) {
    const rows = yield* withContext(config, (ctx) => listDeadLetters(ctx.nats.jsm, limit))
    if (json) return yield* Console.log(JSON.stringify(rows.map(({ data, ...r }) => ({ ...r, bytes: data.length }))))
    if (rows.length === 0) return yield* Console.log("no dead letters")
    yield* Console.log(table(
      ["seq", "at", "source", "from", "subject", "bytes", "reason"],
      rows.map((r) => [r.dlqSeq, new Date(r.at).toISOString(), r.source, `${r.stream}:${r.seq}`, r.subject, r.data.length, r.reason.length > 120 ? `${r.reason.slice(0, 117)}...` : r.reason]),
    ))
  }),
).pipe(Command.withDescription("messages a consumer could not process (AKIS_DLQ), with the reason"))

const replay = Command.make(
  "replay",
  { seqs: Argument.Int("seq").pipe(Argument.withDescription("AKIS_DLQ sequence(s) from `ops dlq list`"), Argument.atLeast(1)), config: configFlag },
  Effect.fn(function* ({ seqs, config }) {
    const done = yield* withContext(config, async (ctx) => {
      const out: string[] = []
      for (const seq of seqs) {
        const d = await replayDeadLetter(ctx.nats.js, ctx.nats.jsm, seq)
        out.push(`replayed ${seq} to ${d.subject} (was ${d.stream}:${d.seq})`)
      }
      return out
    })
    yield* Console.log(done.join("\n"))
  }),
).pipe(Command.withDescription("publish dead letters to their original subject again (after fixing the cause) and remove them"))

/** `ops dlq list|replay`: the dead-letter stream. */
export const dlq = Command.make("dlq").pipe(
  Command.withDescription("dead letters: poison batches and alerts set aside with the reason (AKIS_DLQ)"),
  Command.withSubcommands([list, replay]),
)
