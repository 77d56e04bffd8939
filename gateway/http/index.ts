/**
 * Public surface of the HTTP API (gateway/http): the Hono app over its dependencies, the route
 * list, tokens and audit stores, and the Prometheus exporter. ops/lib/api-node.ts wires it.
 */
export { makeApp, toProblem, type AppOptions } from "./app.ts"
export { allRoutes } from "./routes/index.ts"
export type { Route } from "./route.ts"
export type { ApiDeps, DeviceRow, RulesCheck, RulesVersion } from "./deps.ts"
export { ApiProblem, badParameter, unavailable } from "./errors.ts"
export { newToken, verifyToken, roles, allows, tokenIdPattern, type Role, type TokenRecord } from "./auth.ts"
export { kvTokenStore, memoryTokenStore, kvAuditLog, memoryAuditLog, type TokenStore, type AuditLog, type AuditRecord, type AlertNote } from "./store.ts"
export { makeNodeMetrics, type NodeMetrics, type MetricSources, type HostSample } from "./prometheus.ts"
export { openApiDocument } from "./openapi.ts"
export { publicToken } from "./routes/admin.ts"
export { makeJwtVerifier, remoteJwtVerifier, looksLikeJwt, type JwtOptions } from "./jwt.ts"
