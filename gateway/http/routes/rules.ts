import { Schema } from "effect"
import { ApiProblem } from "../errors.ts"
import { p } from "../params.ts"
import { route } from "../route.ts"

const source = { kind: "text", expected: "the rules file (YAML) as the request body, Content-Type text/plain or application/yaml" } as const
const origin = p.match(/^[\w./:-]{1,200}$/, "a name for where the rules come from (shown in errors as file:line:col and in history)")
const Rollback = Schema.Struct({ version: Schema.Int.check(Schema.isGreaterThan(0)) })

/** Rules: the current set, validate, apply, history, rollback (same checks and file:line:col errors as `ops rules`). */
export const ruleRoutes = [
  route({
    method: "GET", path: "/api/v1/rules", role: "viewer", tag: "rules",
    summary: "The active rule set version (source, checksum, when, origin); `version: null` while none is stored (nodes run their start-up file)",
    handle: async ({ deps }) => (await deps.rulesCurrent()) ?? { version: null, source: null, checksum: null, appliedAt: null, origin: "start-up file (rules.file) of each node" },
  }),
  route({
    method: "GET", path: "/api/v1/rules/history", role: "viewer", tag: "rules",
    summary: "Stored versions, oldest first, without their sources",
    handle: async ({ deps }) => {
      const [all, active] = await Promise.all([deps.rulesHistory(), deps.rulesCurrent()])
      return { active: active?.version ?? null, versions: all.map(({ source: _, ...r }) => r) }
    },
  }),
  route({
    method: "POST", path: "/api/v1/rules/validate", role: "viewer", tag: "rules",
    summary: "Checks a rules file without storing it; 200 with `ok` and, if not ok, issues as file:line:col: message",
    query: { origin }, body: source,
    handle: ({ deps, body, query }) => deps.rulesValidate(body as string, (query.origin as string | undefined) ?? "request"),
  }),
  route({
    method: "PUT", path: "/api/v1/rules", role: "admin", tag: "rules", audited: true, status: 201,
    summary: "Validates and stores a rules file as the next version; every node swaps to it. 400 with issues when invalid",
    query: { origin }, body: source,
    handle: async ({ deps, body, query, caller }) => {
      const r = await deps.rulesApply(body as string, (query.origin as string | undefined) ?? `api:${caller!.name}`)
      await deps.audit.append({ at: deps.clock.now(), actor: caller!.name, role: caller!.role, action: "rules.apply", target: `v${r.version}`, detail: { checksum: r.checksum, origin: r.origin } })
      const { source: _, ...rest } = r
      return rest
    },
  }),
  route({
    method: "POST", path: "/api/v1/rules/rollback", role: "admin", tag: "rules", audited: true, status: 201,
    summary: "Re-applies a stored version as a new version",
    body: { kind: "json", param: p.body(Rollback, "{ version: positive integer (see /api/v1/rules/history) }") },
    handle: async ({ deps, body, caller }) => {
      const version = (body as { version: number }).version
      if (!(await deps.rulesHistory()).some((r) => r.version === version)) {
        throw new ApiProblem({ status: 404, code: "not_found", message: `version ${version} is not in the rules history` })
      }
      const r = await deps.rulesRollback(version)
      await deps.audit.append({ at: deps.clock.now(), actor: caller!.name, role: caller!.role, action: "rules.rollback", target: `v${r.version}`, detail: { from: version, checksum: r.checksum } })
      const { source: _, ...rest } = r
      return rest
    },
  }),
]

