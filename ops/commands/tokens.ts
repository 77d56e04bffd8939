import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { hostname } from "node:os"
import { kvAuditLog, kvTokenStore, newToken, publicToken, roles, tokenIdPattern, type Role } from "../../gateway/http/index.ts"
import { names } from "../../runtime/index.ts"
import { topologyOptions } from "../../runtime/nats/topology.ts"
import { openTopologyKv } from "../../runtime/nats/client.ts"
import { CommandFailed, usage } from "../lib/cli/errors.ts"
import { configFlag, jsonFlag } from "../lib/cli/flags.ts"
import { withContext, type OpsContext } from "../lib/context.ts"
import { age, table } from "../lib/table.ts"

const cliActor = () => `cli@${hostname()}`

/** Opens the tokens and audit buckets (creating them like an api node would) and runs `fn`. */
const withStores = <T>(config: Option.Option<string>, fn: (s: { ctx: OpsContext; tokens: Awaited<ReturnType<typeof kvTokenStore>>; audit: ReturnType<typeof kvAuditLog> }) => Promise<T>) =>
  withContext(config, async (ctx) => {
    const topology = topologyOptions(ctx.config)
    const tokens = await kvTokenStore(await openTopologyKv(ctx.nats.nc, names.tokens, topology))
    const audit = kvAuditLog(await openTopologyKv(ctx.nats.nc, names.audit, topology))
    try {
      return await fn({ ctx, tokens, audit })
    } finally {
      await tokens.close()
    }
  })

const parseTtl = (s: string): number | undefined => {
  const m = /^(\d+)([smhd])$/.exec(s)
  return m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as "s"] * 1000 : undefined
}

const create = Command.make(
  "create",
  {
    name: Argument.String("name").pipe(Argument.withDescription("who or what uses the token, e.g. grafana or alice")),
    role: Flag.String("role").pipe(Flag.withDescription(`one of ${roles.join(", ")}`), Flag.withDefault("viewer")),
    ttl: Flag.String("ttl").pipe(Flag.withDescription("lifetime, e.g. 90d, 12h (default: no expiry)"), Flag.optional),
    json: jsonFlag,
    config: configFlag,
  },
  Effect.fn(function* ({ name, role, ttl, json, config }) {
    yield* usage(!(roles as ReadonlyArray<string>).includes(role) && `--role must be one of ${roles.join(", ")} (got '${role}')`)
    yield* usage(!/^[\w.@-]{1,64}$/.test(name) && `name must match [\\w.@-]{1,64} (got '${name}')`)
    const ttlMs = Option.isSome(ttl) ? parseTtl(ttl.value) : undefined
    yield* usage(Option.isSome(ttl) && ttlMs === undefined && `--ttl must look like 30m, 12h or 90d (got '${Option.getOrUndefined(ttl)}')`)
    const out = yield* withStores(config, async ({ tokens, audit }) => {
      const now = Date.now()
      const { record, token } = newToken(name, role as Role, now, ttlMs ? now + ttlMs : null, cliActor())
      await tokens.put(record)
      await audit.append({ at: now, actor: cliActor(), role: "cli", action: "token.create", target: record.id, detail: { name, role, expiresAt: record.expiresAt } })
      return { ...publicToken(record), token }
    })
    if (json) return yield* Console.log(JSON.stringify(out))
    yield* Console.log(`token ${out.id} (${name}, ${role}${out.expiresAt ? `, expires ${new Date(out.expiresAt).toISOString()}` : ""}):\n\n  ${out.token}\n\nShown once: it is stored hashed. Use it as: curl -H "Authorization: Bearer ${out.token}" …`)
  }),
).pipe(Command.withDescription("create an API token (shown once, stored hashed in KV akis_tokens)"))

const list = Command.make("list", { json: jsonFlag, config: configFlag }, Effect.fn(function* ({ json, config }) {
  const rows = yield* withStores(config, async ({ tokens }) => tokens.list().map(publicToken))
  if (json) return yield* Console.log(JSON.stringify(rows))
  const now = Date.now()
  yield* Console.log(table(["id", "name", "role", "created", "expires", "state", "by"], rows.map((t) => [
    t.id, t.name, t.role, age(now - t.createdAt) + " ago", t.expiresAt ? new Date(t.expiresAt).toISOString() : "never",
    t.revokedAt ? "revoked" : t.expiresAt && t.expiresAt <= now ? "expired" : "valid", t.createdBy,
  ])))
})).pipe(Command.withDescription("list API tokens (never their secrets)"))

const revoke = Command.make(
  "revoke",
  { id: Argument.String("id").pipe(Argument.withDescription("token id (8 hex) as `ops tokens list` shows")), config: configFlag },
  Effect.fn(function* ({ id, config }) {
    yield* usage(!tokenIdPattern.test(id) && `'${id}' is not a token id (8 hex characters; see ops tokens list)`)
    const done = yield* withStores(config, async ({ tokens, audit }) => {
      const t = tokens.get(id)
      if (!t) return false
      const now = Date.now()
      await tokens.put({ ...t, revokedAt: t.revokedAt ?? now })
      await audit.append({ at: now, actor: cliActor(), role: "cli", action: "token.revoke", target: id, detail: { name: t.name } })
      return true
    })
    if (!done) return yield* new CommandFailed({ message: `no token ${id}` })
    yield* Console.log(`revoked ${id}: refused by every api node from now on`)
  }),
).pipe(Command.withDescription("revoke an API token"))

/** `ops tokens create|list|revoke`: API tokens (KV akis_tokens), audited. */
export const tokens = Command.make("tokens").pipe(
  Command.withDescription("create, list and revoke API tokens (roles viewer, operator, admin)"),
  Command.withSubcommands([create, list, revoke]),
)
