import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { loadConfig } from "../../config/index.ts"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { formatIssue, loadRulesFile, ruleLimitsOf, RulesRejected } from "../../config/rules/index.ts"
import { applyRules, currentRules, openRulesKv, rollbackRules, rulesHistory, type RulesRecord } from "../lib/rules-store.ts"
import { natsAuth } from "../../runtime/nats/auth.ts"
import { topologyOptions, type TopologyOptions } from "../../runtime/nats/topology.ts"

const schemaFlag = Flag.String("schema").pipe(Flag.withDescription("device schema YAML (default: config/devices/bus.yaml)"), Flag.optional)
const configFlag = Flag.String("config").pipe(Flag.withDescription("akis config file (NATS servers come from nats.servers)"), Flag.optional)
const schemaOf = (p: Option.Option<string>) => loadDeviceSchema(Option.getOrUndefined(p))
const exit = (code: number) => Effect.sync(() => process.exit(code))
/** Rule limits from the config (rules.max*, gateway.maxReadingsPerSec); a bad config is reported like a bad rule file. */
const limitsOf = (config: Option.Option<string>) => ruleLimitsOf(loadConfig({ file: Option.getOrUndefined(config) }))

/** Why a command could not talk to NATS (bad config, server unreachable); printed without a stack. */
class Unreachable {
  constructor(readonly message: string) {}
}

/** Runs `f` with a connection to the configured NATS servers, closing it afterwards. */
const withNats = <A>(config: Option.Option<string>, f: (nc: NatsConnection, topology: TopologyOptions) => Promise<A>) =>
  Effect.flatMap(
    Effect.promise(async (): Promise<A | Unreachable> => {
      let cfg: ReturnType<typeof loadConfig>
      try {
        cfg = loadConfig({ file: Option.getOrUndefined(config) })
      } catch (e) {
        return new Unreachable((e as Error).message)
      }
      let nc: NatsConnection
      try {
        nc = await connect({ servers: [...cfg.nats.servers], ...natsAuth(cfg.nats, "admin") })
      } catch (e) {
        return new Unreachable(`cannot reach NATS at ${cfg.nats.servers.join(", ")}: ${(e as Error).message}`)
      }
      try {
        return await f(nc, topologyOptions(cfg))
      } finally {
        await nc.close()
      }
    }),
    (r) => (r instanceof Unreachable ? Effect.andThen(Console.error(r.message), exit(1)) : Effect.succeed(r)),
  )

const line = (r: RulesRecord) => `v${r.version}  ${new Date(r.appliedAt).toISOString()}  ${r.checksum.slice(0, 12)}  ${r.origin}`

/** Prints refusal issues (file:line:col: message) and exits 1; other errors propagate. */
const refused = (e: unknown) =>
  e instanceof RulesRejected ? Effect.andThen(Console.error(e.issues.map(formatIssue).join("\n")), exit(1)) : Effect.die(e)

const validate = Command.make(
  "validate",
  { file: Argument.String("file").pipe(Argument.withDescription("rules file (YAML)")), schema: schemaFlag, config: configFlag },
  Effect.fn(function* ({ file, schema, config }) {
    const limits = yield* Effect.try(() => limitsOf(config)).pipe(Effect.catch((e) => Effect.andThen(Console.error(String((e as { cause?: Error }).cause?.message ?? e)), exit(1))))
    const r = loadRulesFile(file, schemaOf(schema), limits!)
    if (!r.ok) {
      yield* Console.error(r.issues.map(formatIssue).join("\n"))
      yield* Console.error(`${r.issues.length} problem${r.issues.length === 1 ? "" : "s"} in ${file}`)
      return yield* exit(1)
    }
    yield* Console.log(`${file}: ok (${r.plan.rules.length} rules, ${r.plan.windows.length} windows, checksum ${r.plan.checksum.slice(0, 12)})`)
  }),
).pipe(Command.withDescription("check a rules file; prints file:line:col: message for each problem and exits 1 if any"))

const apply = Command.make(
  "apply",
  { file: Argument.String("file").pipe(Argument.withDescription("rules file (YAML)")), schema: schemaFlag, config: configFlag },
  Effect.fn(function* ({ file, schema, config }) {
    const text = yield* Effect.promise(() => Bun.file(file).text().catch((e: Error) => e))
    if (text instanceof Error) {
      yield* Console.error(`${file}:1:1: cannot read rules file: ${text.message}`)
      return yield* exit(1)
    }
    const result = yield* withNats(config, async (nc, topology) => {
      try {
        return await applyRules(await openRulesKv(nc, topology), text, file, schemaOf(schema), Date.now(), limitsOf(config))
      } catch (e) {
        return e
      }
    })
    if (result instanceof RulesRejected) return yield* refused(result)
    if (result instanceof Error) return yield* Effect.die(result)
    yield* Console.log(`applied ${line(result as RulesRecord)}`)
  }),
).pipe(Command.withDescription("validate a rules file and store it as the next version in KV akis_rules; every node swaps to it"))

const history = Command.make(
  "history",
  { config: configFlag },
  Effect.fn(function* ({ config }) {
    const [all, active] = yield* withNats(config, async (nc, topology) => {
      const kv = await openRulesKv(nc, topology)
      return [await rulesHistory(kv), await currentRules(kv)] as const
    })
    if (all.length === 0) return yield* Console.log("no rule set stored yet (use: ops rules apply <file>)")
    yield* Console.log(all.map((r) => `${r.version === active?.version ? "*" : " "} ${line(r)}`).join("\n"))
  }),
).pipe(Command.withDescription("list stored rule set versions (* = active)"))

const rollback = Command.make(
  "rollback",
  { version: Argument.Int("version").pipe(Argument.withDescription("version to re-apply")), schema: schemaFlag, config: configFlag },
  Effect.fn(function* ({ version, schema, config }) {
    const result = yield* withNats(config, async (nc, topology) => {
      try {
        return await rollbackRules(await openRulesKv(nc, topology), version, schemaOf(schema), Date.now(), limitsOf(config))
      } catch (e) {
        return e
      }
    })
    if (result instanceof RulesRejected) return yield* refused(result)
    if (result instanceof Error) {
      yield* Console.error(result.message)
      return yield* exit(1)
    }
    yield* Console.log(`applied ${line(result as RulesRecord)}`)
  }),
).pipe(Command.withDescription("re-apply an older version as a new version"))

/** `ops rules validate|apply|history|rollback`: the rule set lifecycle. */
export const rules = Command.make("rules").pipe(
  Command.withDescription("validate, apply, list and roll back rule sets (KV akis_rules)"),
  Command.withSubcommands([validate, apply, history, rollback]),
)
