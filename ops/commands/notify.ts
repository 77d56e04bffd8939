import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { listDeadLetters, notifyTopology } from "../../actors/notifier/index.ts"
import { explanationsOf, makeStore } from "../../actors/sink/index.ts"
import { loadConfig } from "../../config/index.ts"
import { attempt } from "../lib/cli/errors.ts"
import { configFlag, jsonFlag } from "../lib/cli/flags.ts"
import { withContext } from "../lib/context.ts"
import { natsJetStream } from "../../runtime/nats/jetstream.ts"
import { table } from "../lib/table.ts"
import { NotifierLeaseRecord, NotifyMarksRecord, orUndefined } from "../../runtime/wire.ts"


/** `ops notify dead-letters`: notifications that failed maxAttempts times (or were refused), from stream AKIS_DLQ. */
const deadLetters = Command.make(
  "dead-letters",
  {
    json: jsonFlag,
    config: configFlag,
    limit: Flag.Int("limit").pipe(Flag.withDescription("at most this many (oldest first)"), Flag.withDefault(1000)),
  },
  Effect.fn(function* ({ json, config, limit }) {
    const rows = yield* withContext(config, (ctx) => listDeadLetters(natsJetStream(ctx.nats.js, ctx.nats.jsm), limit))
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
    const rows = yield* Effect.acquireUseRelease(
      attempt(() => makeStore(loadConfig({ file: Option.getOrUndefined(config) }).clickhouse)),
      (store) => attempt(() => explanationsOf(store, alertId)),
      (store) => Effect.promise(() => store.close().catch(() => {})),
    )
    if (json) return yield* Console.log(JSON.stringify(rows))
    if (rows.length === 0) return yield* Console.log(`no explanation stored for ${alertId} (interpreter off, model unreachable, or not yet)`)
    for (const x of rows) {
      yield* Console.log(`${x.transitionId}  ${new Date(x.at).toISOString()}  ${x.model}${x.cached ? " (cached)" : ""}  ${x.latencyMs} ms\n  ${x.text.replace(/\n/g, "\n  ")}`)
    }
  }),
).pipe(Command.withDescription("the interpreter's explanation of an alert (ClickHouse alert_explanations)"))

/** `ops notify status`: which node delivers, its persisted state, the consumers' backlog, dead letters. */
const status = Command.make("status", { json: jsonFlag, config: configFlag }, Effect.fn(function* ({ json, config }) {
  const out = yield* withContext(config, async (ctx) => {
    const c = ctx.config
    const kv = await ctx.bucket(c.notify.bucket).catch(() => undefined)
    const leader = kv ? await kv.get("leader").catch(() => null) : null
    const state = kv ? await kv.get("state").catch(() => null) : null
    const st = state && state.operation === "PUT" ? orUndefined(() => NotifyMarksRecord.fromJson(state.value)) : undefined
    const consumer = async (name: string) => {
      const i = await ctx.inspect.consumer(notifyTopology.alertsStream, name).catch(() => undefined)
      return i ? { unprocessed: i.unprocessed, ackPending: i.ackPending, redelivered: i.redelivered } : null
    }
    const dlq = await ctx.inspect.stream(notifyTopology.dlqStream).catch(() => undefined)
    return {
      active: leader && leader.operation === "PUT" ? { ...(orUndefined(() => NotifierLeaseRecord.fromJson(leader.value)) ?? { holder: "(not a lease)", at: 0 }), revision: leader.revision } : null,
      channels: Object.fromEntries(Object.entries(c.notify.channels).map(([k, v]) => [k, v.type])),
      state: st ? { bytes: state!.value.length, throttleMarks: st.lastSent?.length ?? 0, notifiedOpen: st.notified?.length ?? 0, decisionsInFlight: st.decided?.length ?? 0 } : null,
      notifier: await consumer(c.notify.consumer),
      interpreter: await consumer(c.interpreter.consumer),
      deadLetters: dlq?.messages ?? 0,
    }
  })
  if (json) return yield* Console.log(JSON.stringify(out))
  const a = out.active
  yield* Console.log([
    `active notifier: ${a ? `${a.holder} (lease written ${((Date.now() - a.at) / 1000).toFixed(1)}s ago, revision ${a.revision})` : "none"}`,
    `channels:        ${Object.entries(out.channels).map(([k, v]) => `${k} (${v})`).join(", ") || "none configured"}`,
    `state:           ${out.state ? `${out.state.bytes} bytes, ${out.state.throttleMarks} throttle marks, ${out.state.notifiedOpen} open alerts notified, ${out.state.decisionsInFlight} decisions in flight` : "-"}`,
    `notify consumer: ${out.notifier ? `${out.notifier.unprocessed} unprocessed, ${out.notifier.ackPending} in flight, ${out.notifier.redelivered} redelivered` : "not created"}`,
    `interpreter:     ${out.interpreter ? `${out.interpreter.unprocessed} unprocessed, ${out.interpreter.ackPending} in flight, ${out.interpreter.redelivered} redelivered` : "not created"}`,
    `dead letters:    ${out.deadLetters} (ops notify dead-letters)`,
  ].join("\n"))
})).pipe(Command.withDescription("the active notifier, its state, the notify and interpreter consumers, dead letters"))

/** `ops notify …`: the notifiers' operator views. */
export const notify = Command.make("notify").pipe(
  Command.withDescription("alert delivery and explanations: status, dead letters, an alert's explanation"),
  Command.withSubcommands([status, deadLetters, explain]),
)
