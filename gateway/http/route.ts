import type { Context } from "hono"
import type { ApiDeps } from "./deps.ts"
import type { Role } from "./auth.ts"
import type { Param } from "./params.ts"

/** Who made a request (the token's name and role). */
export interface Caller {
  readonly tokenId: string
  readonly name: string
  readonly role: Role
}

/** What a handler gets: decoded inputs, the caller, the dependencies. */
export interface RouteContext {
  readonly path: Record<string, unknown>
  readonly query: Record<string, unknown>
  readonly body: unknown
  readonly caller: Caller | undefined
  readonly deps: ApiDeps
  readonly c: Context
}

/**
 * One route, declared once: the app registers it, checks its role and inputs, and the OpenAPI
 * document and the auth test matrix are generated from the same list.
 */
export interface Route {
  readonly method: "GET" | "POST" | "PUT" | "DELETE"
  /** OpenAPI-style path, e.g. `/api/v1/devices/{id}`. */
  readonly path: string
  /** Least role allowed; `public` needs no token. */
  readonly role: Role | "public"
  readonly summary: string
  readonly tag: string
  readonly pathParams?: Record<string, Param<any>>
  readonly query?: Record<string, Param<any>>
  /** A JSON body (validated) or raw text (rules source). */
  readonly body?: { readonly kind: "json"; readonly param: Param<any> } | { readonly kind: "text"; readonly expected: string }
  /** Writes an audit record (documented in OpenAPI). */
  readonly audited?: boolean
  /** The response is a stream (SSE) or non-JSON text. */
  readonly produces?: "application/json" | "text/event-stream" | "text/plain"
  /** Returns a Response, or a value sent as JSON with `status` (default 200). */
  readonly handle: (ctx: RouteContext) => Promise<Response | unknown> | Response | unknown
  readonly status?: number
}

/** Identity helper that keeps the literal types of a route. */
export const route = (r: Route): Route => r
