import type { Role } from "./auth.ts"
import type { Route } from "./route.ts"

/** A valid request for one route (the auth matrix sends it with each kind of token). */
export interface RouteSample {
  readonly path: string
  readonly body?: string
  readonly contentType?: string
  /** The status a caller with enough rights gets (default: the route's status, 200). */
  readonly ok?: number
}

/**
 * One valid request per route, keyed `METHOD path-template`. Tests check that every route has
 * exactly one entry, so a new route cannot be left out of the auth matrix.
 */
export const routeSamples = (device: string, alertId: string, rulesSource: string, tokenIdToRevoke: () => string): Record<string, () => RouteSample> => ({
  "GET /api/v1/devices": () => ({ path: "/api/v1/devices?limit=10" }),
  "GET /api/v1/devices/{id}": () => ({ path: `/api/v1/devices/${device}` }),
  "GET /api/v1/devices/{id}/history": () => ({ path: `/api/v1/devices/${device}/history?fields=coolant_temp_c,engine_rpm&points=10` }),
  "GET /api/v1/fleet": () => ({ path: "/api/v1/fleet?field=coolant_temp_c&by=total" }),
  "GET /api/v1/alerts": () => ({ path: "/api/v1/alerts?limit=100" }),
  "GET /api/v1/alerts/stream": () => ({ path: "/api/v1/alerts/stream" }),
  "GET /api/v1/alerts/{alertId}": () => ({ path: `/api/v1/alerts/${alertId}` }),
  "POST /api/v1/alerts/{alertId}/ack": () => ({ path: `/api/v1/alerts/${alertId}/ack`, body: JSON.stringify({ comment: "looking" }), contentType: "application/json" }),
  "POST /api/v1/alerts/{alertId}/comments": () => ({ path: `/api/v1/alerts/${alertId}/comments`, body: JSON.stringify({ text: "driver called" }), contentType: "application/json" }),
  "GET /api/v1/rules": () => ({ path: "/api/v1/rules" }),
  "GET /api/v1/rules/history": () => ({ path: "/api/v1/rules/history" }),
  "POST /api/v1/rules/validate": () => ({ path: "/api/v1/rules/validate", body: rulesSource, contentType: "text/plain" }),
  "PUT /api/v1/rules": () => ({ path: "/api/v1/rules?origin=matrix.yaml", body: rulesSource, contentType: "text/plain" }),
  "POST /api/v1/rules/rollback": () => ({ path: "/api/v1/rules/rollback", body: JSON.stringify({ version: 1 }), contentType: "application/json" }),
  "GET /api/v1/cluster/members": () => ({ path: "/api/v1/cluster/members" }),
  "GET /api/v1/cluster/shards": () => ({ path: "/api/v1/cluster/shards" }),
  "GET /api/v1/cluster/streams": () => ({ path: "/api/v1/cluster/streams" }),
  "GET /healthz": () => ({ path: "/healthz" }),
  "GET /readyz": () => ({ path: "/readyz" }),
  "GET /metrics": () => ({ path: "/metrics" }),
  "GET /api/v1/ping": () => ({ path: "/api/v1/ping" }),
  "GET /api/v1/tokens": () => ({ path: "/api/v1/tokens" }),
  "POST /api/v1/tokens": () => ({ path: "/api/v1/tokens", body: JSON.stringify({ name: "matrix", role: "viewer", ttlSeconds: 3600 }), contentType: "application/json" }),
  "DELETE /api/v1/tokens/{id}": () => ({ path: `/api/v1/tokens/${tokenIdToRevoke()}` }),
  "GET /api/v1/audit": () => ({ path: "/api/v1/audit" }),
})

/** Who calls in the auth matrix. */
export type Who = "none" | "bad" | Role

/** The status the matrix expects: 401 without a valid token, 403 below the route's role, else the route's success status. */
export const expectedStatus = (r: Route, who: Who): number => {
  if (r.role === "public") return r.status ?? 200
  if (who === "none" || who === "bad") return 401
  const order = ["viewer", "operator", "admin"]
  return order.indexOf(who) < order.indexOf(r.role) ? 403 : r.status ?? 200
}
