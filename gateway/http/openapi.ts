import type { Route } from "./route.ts"

/**
 * The OpenAPI 3.1 document of a route list, generated from the same declarations the app
 * validates with (parameter schemas come from Effect Schema's JSON Schema output).
 */
export const openApiDocument = (routes: ReadonlyArray<Route>) => {
  const paths: Record<string, Record<string, unknown>> = {}
  const problem = { $ref: "#/components/schemas/Problem" }
  const answer = (d: string) => ({ description: d, content: { "application/json": { schema: problem } } })
  for (const r of routes) {
    const parameters = [
      ...Object.entries(r.pathParams ?? {}).map(([name, p]) => ({ name, in: "path", required: true, description: p.expected, schema: p.jsonSchema })),
      ...Object.entries(r.query ?? {}).map(([name, p]) => ({ name, in: "query", required: p.required, description: p.expected, schema: p.jsonSchema })),
    ]
    const responses: Record<string, unknown> = {
      [String(r.status ?? 200)]: { description: "OK", content: { [r.produces ?? "application/json"]: {} } },
    }
    if (parameters.length || r.body) responses["400"] = answer("a parameter is invalid: `parameter` names it, `expected` says what it must be")
    if (r.role !== "public") {
      responses["401"] = answer("no token, or a malformed, unknown, revoked or expired one")
      responses["403"] = answer(`the token's role is below ${r.role}`)
      responses["429"] = answer("the token is over its rate limit (see Retry-After)")
    }
    responses["503"] = answer("ClickHouse, NATS or the device's shard owner is unreachable (see Retry-After)")
    const op: Record<string, unknown> = {
      summary: r.summary, tags: [r.tag], operationId: `${r.method.toLowerCase()}${r.path.replace(/[{}]/g, "").replace(/\/(\w)/g, (_, x: string) => x.toUpperCase()).replace(/\W/g, "")}`,
      parameters, responses, "x-akis-role": r.role, ...(r.audited ? { "x-akis-audited": true } : {}),
      ...(r.role === "public" ? { security: [] } : {}),
    }
    if (r.body) {
      op.requestBody = r.body.kind === "text"
        ? { required: true, content: { "text/plain": { schema: { type: "string", description: r.body.expected } } } }
        : { required: true, content: { "application/json": { schema: r.body.param.jsonSchema } } }
    }
    ;(paths[r.path] ??= {})[r.method.toLowerCase()] = op
  }
  return {
    openapi: "3.1.0",
    info: { title: "akis API", version: "1", description: "Live state, history, alerts, rules and cluster views of an akis cluster. Roles: viewer < operator < admin." },
    paths,
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "an API token from `bun run ops tokens create`" } },
      schemas: {
        Problem: {
          type: "object", required: ["error", "message"],
          properties: { error: { type: "string" }, message: { type: "string" }, parameter: { type: "string" }, expected: { type: "string" } },
        },
      },
    },
  }
}
