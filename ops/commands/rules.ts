import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { loadConfig } from "../../config/index.ts"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { formatIssue, loadRulesFile, ruleLimitsOf, RulesRejected } from "../../config/rules/index.ts"
import { applyRules, currentRules, openRulesKv, rollbackRules, rulesHistory, type RulesRecord } from "../lib/rules-store.ts"
import { topologyOptions, type TopologyOptions } from "../../runtime/nats/topology.ts"
import type { Connection } from "../../runtime/nats/client.ts"
import { attempt, CommandFailed } from "../lib/cli/errors.ts"
import { configFlag } from "../lib/cli/flags.ts"
import { withContext } from "../lib/context.ts"

const schemaFlag = Flag.String("schema").pipe(Flag.withDescription("device schema YAML (default: config/devices/bus.yaml)"), Flag.optional)
const schemaOf = (p: Option.Option<string>) => loadDeviceSchema(Option.getOrUndefined(p))
/** Rule limits from the config (rules.max*, gateway.maxReadingsPerSec). */
const limitsOf = (config: Option.Option<string>) => ruleLimitsOf(loadConfig({ file: Option.getOrUndefined(config) }))

/** A refused rule set: one `file:line:col: message` line per problem on stderr, exit 1. */
const refusal = (e: unknown) =>
  e instanceof RulesRejected ? new CommandFailed({ message: "", lines: e.issues.map(formatIssue) }) : undefined

/** Runs `f` with an admin connection to NATS (closed afterwards); a refused rule set fails with its issues. */
const withNats = <A>(config: Option.Option<string>, f: (nc: Connection, topology: TopologyOptions) => Promise<A>) =>
  withContext(config, (ctx) => f(ctx.nats.nc, topologyOptions(ctx.config)), (message, e) => refusal(e) ?? new CommandFailed({ message }))

const line = (r: RulesRecord) => `v${r.version}  ${new Date(r.appliedAt).toISOString()}  ${r.checksum.slice(0, 12)}  ${r.origin}`

const validate = Command.make(
  "validate",
  { file: Argument.String("file").pipe(Argument.withDescription("rules file (YAML)")), schema: schemaFlag, config: configFlag },
  Effect.fn(function* ({ file, schema, config }) {
    const limits = yield* attempt(() => limitsOf(config))
    const r = yield* attempt(() => loadRulesFile(file, schemaOf(schema), limits))
    if (!r.ok) {
      return yield* new CommandFailed({ message: `${r.issues.length} problem${r.issues.length === 1 ? "" : "s"} in ${file}`, lines: r.issues.map(formatIssue) })
    }
    yield* Console.log(`${file}: ok (${r.plan.rules.length} rules, ${r.plan.windows.length} windows, checksum ${r.plan.checksum.slice(0, 12)})`)
  }),
).pipe(Command.withDescription("check a rules file; prints file:line:col: message for each problem and exits 1 if any"))

const apply = Command.make(
  "apply",
  { file: Argument.String("file").pipe(Argument.withDescription("rules file (YAML)")), schema: schemaFlag, config: configFlag },
  Effect.fn(function* ({ file, schema, config }) {
    const text = yield* attempt(() => Bun.file(file).text(), (m) => new CommandFailed({ message: `${file}:1:1: cannot read rules file: ${m}` }))
    const result = yield* withNats(config, async (nc, topology) =>
      applyRules(await openRulesKv(nc, topology), text, file, schemaOf(schema), Date.now(), limitsOf(config)))
    yield* Console.log(`applied ${line(result)}`)
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
    const result = yield* withNats(config, async (nc, topology) =>
      rollbackRules(await openRulesKv(nc, topology), version, schemaOf(schema), Date.now(), limitsOf(config)))
    yield* Console.log(`applied ${line(result)}`)
  }),
).pipe(Command.withDescription("re-apply an older version as a new version"))

/** `ops rules validate|apply|history|rollback`: the rule set lifecycle. */
export const rules = Command.make("rules").pipe(
  Command.withDescription("validate, apply, list and roll back rule sets (KV akis_rules)"),
  Command.withSubcommands([validate, apply, history, rollback]),
)
