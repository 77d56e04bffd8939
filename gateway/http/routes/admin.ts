import { Schema } from "effect"
import { newToken, roles, tokenIdPattern, type TokenRecord } from "../auth.ts"
import { ApiProblem } from "../errors.ts"
import { p, required } from "../params.ts"
import { route } from "../route.ts"

const CreateToken = Schema.Struct({
  name: Schema.String.check(Schema.isPattern(/^[\w.@-]{1,64}$/)),
  role: Schema.Literals(roles),
  /** Lifetime in seconds; omitted = never expires. */
  ttlSeconds: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 60, maximum: 10 * 365 * 86_400 }))),
})

/** Shows a token record without its hash. */
export const publicToken = (t: TokenRecord): Omit<TokenRecord, "hash"> => {
  const { hash: _, ...r } = t
  return r
}

/** Tokens and the audit log (admin). */
export const adminRoutes = [
  route({
    method: "GET", path: "/api/v1/tokens", role: "admin", tag: "admin",
    summary: "Every token (id, name, role, created, expiry, revoked); never the secret",
    handle: ({ deps }) => ({ tokens: deps.tokens.list().map((t) => publicToken(t)) }),
  }),
  route({
    method: "POST", path: "/api/v1/tokens", role: "admin", tag: "admin", audited: true, status: 201,
    summary: "Creates a token; the answer shows the secret once (it is stored hashed)",
    body: { kind: "json", param: p.body(CreateToken, "{ name: [\\w.@-]{1,64}, role: viewer|operator|admin, ttlSeconds?: integer ≥ 60 }") },
    handle: async ({ deps, body, caller }) => {
      const b = body as typeof CreateToken.Type
      const now = deps.clock.now()
      const { record, token } = newToken(b.name, b.role, now, b.ttlSeconds ? now + b.ttlSeconds * 1000 : null, caller!.name)
      await deps.tokens.put(record)
      await deps.audit.append({ at: now, actor: caller!.name, role: caller!.role, action: "token.create", target: record.id, detail: { name: b.name, role: b.role, expiresAt: record.expiresAt } })
      return { ...publicToken(record), token }
    },
  }),
  route({
    method: "DELETE", path: "/api/v1/tokens/{id}", role: "admin", tag: "admin", audited: true,
    summary: "Revokes a token (kept, marked revoked; refused from then on)",
    pathParams: { id: required(p.match(tokenIdPattern, "a token id (8 hex)")) },
    handle: async ({ deps, path, caller }) => {
      const t = deps.tokens.get(path.id as string)
      if (!t) throw new ApiProblem({ status: 404, code: "not_found", message: `no token ${path.id}` })
      const now = deps.clock.now()
      const revoked = { ...t, revokedAt: t.revokedAt ?? now }
      await deps.tokens.put(revoked)
      await deps.audit.append({ at: now, actor: caller!.name, role: caller!.role, action: "token.revoke", target: t.id, detail: { name: t.name } })
      return publicToken(revoked)
    },
  }),
  route({
    method: "GET", path: "/api/v1/audit", role: "admin", tag: "admin",
    summary: "Audit records (who, what, when), newest first: rule changes, rollbacks, acknowledgements, comments, token changes",
    query: {
      from: p.time("start (default: to − 30 days)"), to: p.time("end (default: now)"),
      action: p.oneOf(["rules.apply", "rules.rollback", "alert.ack", "alert.comment", "token.create", "token.revoke"], "only this action"),
      limit: p.int(1, 10_000, "most records"),
    },
    handle: async ({ deps, query }) => {
      const to = (query.to as number | undefined) ?? deps.clock.now()
      return {
        records: await deps.audit.query({
          from: (query.from as number | undefined) ?? to - 30 * 86_400_000, to, action: query.action as string | undefined,
          limit: (query.limit as number | undefined) ?? 1000,
        }),
      }
    },
  }),
]
