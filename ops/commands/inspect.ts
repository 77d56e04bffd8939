import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { askActor, parseAddress } from "../../runtime/index.ts"
import { requesterOf } from "../../runtime/nats/client.ts"
import { UsageError } from "../lib/cli/errors.ts"
import { configFlag, jsonFlag } from "../lib/cli/flags.ts"
import { withContext } from "../lib/context.ts"
import { bytes, table } from "../lib/table.ts"

const dec = new TextDecoder()


/** `ops streams`: what `nats stream report` shows, for akis's streams and KV buckets. */
export const streams = Command.make("streams", { json: jsonFlag, config: configFlag }, Effect.fn(function* ({ json, config }) {
  const rows = yield* withContext(config, async (ctx) =>
    (await ctx.inspect.streams())
      .filter((si) => /^(AKIS_|KV_akis_|OBJ_akis_)/.test(si.stream))
      .map((si) => ({
        stream: si.stream, subjects: si.subjects, consumers: si.consumers, messages: si.messages,
        bytes: si.bytes, firstSeq: si.firstSeq, lastSeq: si.lastSeq, deleted: si.deleted,
        storage: si.storage, replicas: si.replicas, maxAgeHours: si.maxAgeMs / 3.6e6,
        leader: si.leader, replicasState: si.peers.map((r) => `${r.name}:${r.current ? "current" : "outdated"}${r.offline ? ",offline" : ""}`),
      }))
      .sort((a, b) => a.stream.localeCompare(b.stream)))
  if (json) return yield* Console.log(JSON.stringify(rows))
  yield* Console.log(table(
    ["stream", "consumers", "messages", "bytes", "first", "last", "deleted", "storage", "R", "max age", "cluster"],
    rows.map((r) => [r.stream, r.consumers, r.messages, bytes(r.bytes), r.firstSeq, r.lastSeq, r.deleted, r.storage, r.replicas, r.maxAgeHours ? `${r.maxAgeHours}h` : "-", r.leader ? `${r.leader}* ${r.replicasState.join(" ")}` : "-"]),
  ))
})).pipe(Command.withDescription("akis streams and buckets as `nats stream report` shows them"))

/** `ops consumers`: what `nats consumer report` shows for akis's streams. */
export const consumers = Command.make("consumers", { json: jsonFlag, config: configFlag }, Effect.fn(function* ({ json, config }) {
  const rows = yield* withContext(config, async (ctx) => {
    const out = []
    // a stream not created yet has no consumers
    for (const stream of ["AKIS_TLM", "AKIS_ALERTS"]) {
      for (const ci of await ctx.inspect.consumers(stream)) {
        out.push({
          stream, consumer: ci.consumer, mode: ci.push ? "push" : "pull", ackPolicy: ci.ackPolicy,
          ackWaitS: ci.ackWaitMs / 1e3, filter: ci.filter, ackPending: ci.ackPending,
          redelivered: ci.redelivered, unprocessed: ci.unprocessed, ackFloor: ci.ackFloor, delivered: ci.delivered,
          waiting: ci.waiting, leader: ci.leader,
        })
      }
    }
    return out
  })
  if (json) return yield* Console.log(JSON.stringify(rows))
  yield* Console.log(table(
    ["stream", "consumer", "mode", "ack", "ack wait", "filter", "ack pending", "redelivered", "unprocessed", "ack floor", "delivered", "leader"],
    rows.map((r) => [r.stream, r.consumer, r.mode, r.ackPolicy, `${r.ackWaitS}s`, r.filter, r.ackPending, r.redelivered, r.unprocessed, r.ackFloor, r.delivered, r.leader]),
  ))
  yield* Console.log("\n(shard hosts read with ordered consumers: they show as ephemeral consumers with a filter akis.tlm.<shard>)")
})).pipe(Command.withDescription("consumers of akis's streams as `nats consumer report` shows them"))

/** `ops kv <bucket> [key] [--history]`: `nats kv ls/get/history` for an akis bucket. */
export const kv = Command.make(
  "kv",
  {
    bucket: Argument.String("bucket").pipe(Argument.withDescription("akis_members | akis_shards | akis_config | akis_rules | akis_snapshots")),
    key: Argument.String("key").pipe(Argument.withDescription("one key (default: every key)"), Argument.optional),
    history: Flag.Boolean("history").pipe(Flag.withDescription("every revision of the key"), Flag.withDefault(false)),
    json: jsonFlag,
    config: configFlag,
  },
  Effect.fn(function* ({ bucket, key, history, json, config }) {
    if (!/^akis_[a-z]+$/.test(bucket)) return yield* new UsageError({ message: `'${bucket}' is not an akis bucket (akis_members, akis_shards, akis_config, akis_rules, akis_snapshots)` })
    const rows = yield* withContext(config, async (ctx) => {
      const status = await ctx.inspect.bucket(bucket)
      const show = (v: Uint8Array) => {
        const s = dec.decode(v)
        return /^[\x20-\x7e\s]*$/.test(s) ? s : `<${v.length} bytes binary>`
      }
      const k = Option.getOrUndefined(key)
      const found = k && history ? await ctx.inspect.history(bucket, k) : await ctx.inspect.entries(bucket, k ? [k] : undefined)
      const entries = found.map((e) => ({ key: e.key, revision: e.revision, operation: e.operation, created: new Date(e.created).toISOString(), value: show(e.value) }))
      return { bucket, values: status.values, history: status.history, replicas: status.replicas, bytes: status.bytes, entries }
    })
    if (json) return yield* Console.log(JSON.stringify(rows))
    yield* Console.log(`${rows.bucket}: ${rows.values} values, history ${rows.history}, R${rows.replicas}, ${bytes(rows.bytes)}\n` + table(
      ["key", "revision", "op", "created", "value"],
      rows.entries.map((e) => [e.key, e.revision, e.operation, e.created, e.value.length > 100 ? `${e.value.slice(0, 97)}...` : e.value]),
    ))
  }),
).pipe(Command.withDescription("keys and values of an akis KV bucket (`nats kv ls/get/history`)"))

/** `ops actor <kind>/<id>`: one actor's live state, fetched from whichever node owns it. */
export const actor = Command.make(
  "actor",
  { address: Argument.String("address").pipe(Argument.withDescription("<kind>/<id>, e.g. device/bus-0042")), json: jsonFlag, config: configFlag },
  Effect.fn(function* ({ address, json, config }) {
    const a = parseAddress(address)
    if (!a) return yield* new UsageError({ message: `'${address}' is not an actor address: write <kind>/<id>, e.g. device/bus-0042` })
    const result = yield* withContext(config, (ctx) => askActor(requesterOf(ctx.bus), ctx.config.cluster.partitions, a.kind, a.id, {}, { timeoutMs: 5_000 }))
    yield* Console.log(json ? JSON.stringify(result) : JSON.stringify(result, null, 2))
  }),
).pipe(Command.withDescription("one actor's live state, fetched from the node that owns its shard"))

