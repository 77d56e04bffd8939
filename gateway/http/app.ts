import { Hono, type Context } from "hono"
import { allows, bearer, RateLimiter, verifyToken } from "./auth.ts"
import type { ApiDeps } from "./deps.ts"
import { ApiProblem, badParameter } from "./errors.ts"
import { openApiDocument } from "./openapi.ts"
import { looksLikeJwt } from "./jwt.ts"
import { decodeParams } from "./params.ts"
import type { Caller, Route } from "./route.ts"
import { allRoutes } from "./routes/index.ts"

/** Options of {@link makeApp}. */
export interface AppOptions {
  /** Called with unexpected errors (answered 500 without details). */
  readonly onInternalError?: (e: unknown, route: string) => void
  /** Routes to serve (default: every route). */
  readonly routes?: ReadonlyArray<Route>
  /** Largest request body in bytes. */
  readonly maxBodyBytes?: number
}

const honoPath = (p: string) => p.replace(/\{(\w+)\}/g, ":$1")

/** The JSON body of an error answer. */
const problemBody = (p: ApiProblem) => ({
  error: p.code, message: p.message, ...(p.parameter ? { parameter: p.parameter } : {}), ...(p.expected ? { expected: p.expected } : {}),
  ...(p.issues ? { issues: p.issues } : {}),
})

/** Maps any failure to an answer: ApiProblem as declared, known foreign errors by tag, the rest 500 (no stack). */
export const toProblem = (e: unknown): ApiProblem | undefined => {
  if (e instanceof ApiProblem) return e
  const tag = (e as { _tag?: string } | null)?._tag
  if (tag === "HistoryInputInvalid") {
    const h = e as { field: string; message: string }
    return badParameter(h.field, h.message)
  }
  if (tag === "StoreUnavailable" || tag === "StoreRefused") return new ApiProblem({ status: 503, code: "unavailable", message: "ClickHouse unavailable", retryAfterS: 5 })
  if (tag === "ActorNotFound") return new ApiProblem({ status: 404, code: "not_found", message: (e as Error).message })
  if (tag === "ActorUnavailable") return new ApiProblem({ status: 503, code: "unavailable", message: "the device's shard has no reachable owner right now", retryAfterS: 2 })
  return undefined
}

const respondProblem = (c: Context, p: ApiProblem) => {
  if (p.retryAfterS !== undefined) c.header("Retry-After", String(p.retryAfterS))
  if (p.status === 401) c.header("WWW-Authenticate", 'Bearer realm="akis"')
  return c.json(problemBody(p), p.status)
}

/**
 * Builds the HTTP API as a Hono app over `deps`: every route of routes/ with its role check,
 * per-token rate limit, input validation and error mapping; `GET /openapi.json` describes them.
 * In tests drive it with `app.request(...)`; in a node, serve `app.fetch` with Bun.serve.
 */
export const makeApp = (deps: ApiDeps, o: AppOptions = {}): Hono => {
  const routes = o.routes ?? allRoutes
  const limiter = new RateLimiter(deps.rateLimit, () => deps.clock.now())
  const maxBody = o.maxBodyBytes ?? 1_048_576
  const app = new Hono()
  const doc = openApiDocument(routes)
  app.get("/openapi.json", (c) => c.json(doc))

  for (const r of routes) {
    const handler = async (c: Context) => {
      const started = performance.now()
      let status = 500
      try {
        const res = await run(r, c)
        status = res.status
        return res
      } catch (e) {
        const p = toProblem(e)
        if (!p) {
          o.onInternalError?.(e, `${r.method} ${r.path}`)
          return c.json({ error: "internal", message: "internal error; see the node's log" }, 500)
        }
        status = p.status
        return respondProblem(c, p)
      } finally {
        deps.observe?.(r.path, r.method, status, (performance.now() - started) / 1000)
      }
    }
    app.on(r.method, honoPath(r.path), handler)
  }

  const run = async (r: Route, c: Context): Promise<Response> => {
    const rawQuery = c.req.query()
    let caller: Caller | undefined
    if (r.role !== "public") {
      // EventSource cannot set headers: the SSE route also takes ?access_token=.
      const presented = bearer(c.req.header("authorization")) ?? (r.produces === "text/event-stream" ? rawQuery.access_token : undefined)
      if (presented && deps.verifyJwt && looksLikeJwt(presented)) {
        const j = await deps.verifyJwt(presented)
        if (!j.ok) throw new ApiProblem({ status: 401, code: "unauthorized", message: `JWT refused: ${j.why}` })
        caller = { tokenId: j.name, name: j.name, role: j.role }
      } else {
        const v = verifyToken(presented, deps.tokens.get, deps.clock.now())
        if (!v.ok) {
          throw new ApiProblem({ status: 401, code: "unauthorized", message: v.why === "missing" ? "no bearer token (Authorization: Bearer akis_…)" : `token refused: ${v.why}` })
        }
        caller = { tokenId: v.record.id, name: v.record.name, role: v.record.role }
      }
      if (!allows(caller.role, r.role)) {
        throw new ApiProblem({ status: 403, code: "forbidden", message: `role ${caller.role} may not ${r.method} ${r.path} (needs ${r.role})` })
      }
      const wait = limiter.take(caller.tokenId)
      if (wait > 0) throw new ApiProblem({ status: 429, code: "rate_limited", message: `token ${caller.name} is over ${deps.rateLimit.perSec} requests/s`, retryAfterS: wait })
    }
    const { access_token: _, ...query } = rawQuery
    const decodedQuery = decodeParams(r.query ?? {}, query)
    const decodedPath = decodeParams(r.pathParams ?? {}, c.req.param() as Record<string, string>, "path")
    let body: unknown
    if (r.body) {
      const len = Number(c.req.header("content-length") ?? 0)
      if (len > maxBody) throw new ApiProblem({ status: 413, code: "too_large", message: `request body over ${maxBody} bytes` })
      const text = await c.req.text()
      if (text.length > maxBody) throw new ApiProblem({ status: 413, code: "too_large", message: `request body over ${maxBody} bytes` })
      if (r.body.kind === "text") {
        if (text.trim() === "") throw badParameter("body", r.body.expected)
        body = text
      } else {
        let json: unknown
        try {
          json = text === "" ? {} : JSON.parse(text)
        } catch {
          throw badParameter("body", `JSON: ${r.body.param.expected}`)
        }
        if (typeof json !== "object" || json === null || Array.isArray(json)) throw badParameter("body", `a JSON object: ${r.body.param.expected}`)
        body = decodeParams({ body: r.body.param }, { body: json }, "body").body
      }
    }
    const out = await r.handle({ path: decodedPath, query: decodedQuery, body, caller, deps, c })
    if (out instanceof Response) return out
    return c.json(out as object, (r.status ?? 200) as 200)
  }

  app.notFound((c) => c.json({ error: "no_route", message: `no route ${c.req.method} ${c.req.path}; see /openapi.json` }, 404))
  app.onError((e, c) => {
    const p = toProblem(e)
    if (p) return respondProblem(c, p)
    o.onInternalError?.(e, c.req.path)
    return c.json({ error: "internal", message: "internal error; see the node's log" }, 500)
  })
  return app
}
