import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { listDeadLetters } from "../../actors/notifier/index.ts"
import { explanationsOf, makeStore } from "../../actors/sink/index.ts"
import { loadConfig } from "../../config/index.ts"
import { opsContext, table } from "../lib/context.ts"

const jsonFlag = Flag.Boolean("json").pipe(Flag.withDescription("print JSON for scripts"), Flag.withDefault(false))
const configFlag = Flag.String("config").pipe(Flag.withDescription("config file (default: AKIS_CONFIG or config/default.yaml)"), Flag.optional)

/** `ops notify dead-letters`: notifications that failed maxAttempts times (or were refused), from stream AKIS_DLQ. */
const deadLetters = Command.make(
  "dead-letters",
  {
    json: jsonFlag,
    config: configFlag,
    limit: Flag.Int("limit").pipe(Flag.withDescription("at most this many (oldest first)"), Flag.withDefault(1000)),
  },
  Effect.fn(function* ({ json, config, limit }) {
    const rows = yield* Effect.promise(async () => {
      let ctx: Awaited<ReturnType<typeof opsContext>> | undefined
      try {
        ctx = await opsContext(Option.getOrUndefined(config))
        return await listDeadLetters(ctx.nats.nc, limit)
      } catch (e) {
        console.error((e as Error).message)
        process.exit(1)
      } finally {
        await ctx?.close().catch(() => {})
      }
    })
    if (json) return yield* Console.log(JSON.stringify(rows))
    if (rows.length === 0) return yield* Console.log("no dead letters")
    yield* Console.log(table(
      ["seq", "given up", "channel", "attempts", "key", "error"],
      rows.map((d) => [d.seq ?? "-", new Date(d.at).toISOString(), d.channel, d.attempts, d.key, d.error.length > 80 ? `${d.error.slice(0, 77)}...` : d.error]),
    ))
  }),
).pipe(Command.withDescription("notifications given up after notify.maxAttempts (stream AKIS_DLQ)"))

/** `ops notify explain <alertId>`: the interpreter's explanations of an alert, from ClickHouse `alert_explanations`. */
const explain = Command.make(
  "explain",
  {
    alertId: Argument.String("alertId").pipe(Argument.withDescription("the alert's id, e.g. bus-0042:overheating:1234")),
    json: jsonFlag,
    config: configFlag,
  },
  Effect.fn(function* ({ alertId, json, config }) {
    const rows = yield* Effect.promise(async () => {
      const store = makeStore(loadConfig({ file: Option.getOrUndefined(config) }).clickhouse)
      try {
        return await explanationsOf(store, alertId)
      } catch (e) {
        console.error((e as { message?: string }).message ?? String(e))
        process.exit(1)
      } finally {
        await store.close().catch(() => {})
      }
    })
    if (json) return yield* Console.log(JSON.stringify(rows))
    if (rows.length === 0) return yield* Console.log(`no explanation stored for ${alertId} (interpreter off, model unreachable, or not yet)`)
    for (const x of rows) {
      yield* Console.log(`${x.transitionId}  ${new Date(x.at).toISOString()}  ${x.model}${x.cached ? " (cached)" : ""}  ${x.latencyMs} ms\n  ${x.text.replace(/\n/g, "\n  ")}`)
    }
  }),
).pipe(Command.withDescription("the interpreter's explanation of an alert (ClickHouse alert_explanations)"))

/** `ops notify …`: the notifiers' operator views. */
export const notify = Command.make("notify").pipe(
  Command.withDescription("alert delivery and explanations: dead letters, an alert's explanation"),
  Command.withSubcommands([deadLetters, explain]),
)
