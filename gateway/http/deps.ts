import type { DeviceSchema } from "../../config/device-schema.ts"
import type { Clock } from "../../runtime/clock.ts"
import type { AlertTransition } from "../../runtime/alert.ts"
import type { RateLimit, Role } from "./auth.ts"
import type { AuditLog, TokenStore } from "./store.ts"

/** One row of the device list. */
export interface DeviceRow {
  readonly id: string
  readonly groups: ReadonlyArray<string>
  readonly shard: number
  /** Node holding the device's shard now (null: no owner, e.g. during failover). */
  readonly owner: string | null
  /** Epoch ms of the newest stored minute with readings (from the 1-minute rollup). */
  readonly lastSeen: number | null
  readonly openAlerts: number
}

/** What `validate` says about a rules source. */
export type RulesCheck =
  | { readonly ok: true; readonly rules: number; readonly windows: number; readonly checksum: string }
  /** Each issue as `file:line:col: message`, as `ops rules validate` prints it. */
  | { readonly ok: false; readonly issues: ReadonlyArray<string> }

/** A stored rules version (as in KV akis_rules). */
export interface RulesVersion {
  readonly version: number
  readonly source: string
  readonly checksum: string
  readonly appliedAt: number
  readonly origin: string
}

/**
 * Everything the API reads and changes, as plain async functions. The real implementation
 * (ops/lib/api-deps.ts) talks to NATS and ClickHouse and translates their failures into
 * ApiProblem (503 + Retry-After, 404); tests pass fakes. Extension point for the notifier and the
 * interpreter: `alertExtras` adds deliveries, dead letters and explanations to one alert's view.
 */
export interface ApiDeps {
  /** Time and timers (SSE keep-alives, rate limits). */
  readonly clock: Clock
  readonly schema: DeviceSchema
  readonly rateLimit: RateLimit
  readonly tokens: TokenStore
  readonly audit: AuditLog
  /** Optional: checks a bearer JWT from an external identity provider (gateway/http/jwt.ts). */
  readonly verifyJwt?: (token: string) => Promise<{ ok: true; name: string; role: Role } | { ok: false; why: string }>
  /** The device actor's answer (as `ops actor device/<id>`); ApiProblem 404 when it has no state. */
  liveState(id: string): Promise<unknown>
  devices(limit: number): Promise<DeviceRow[]>
  /** History (actors/sink/history.ts); bad inputs throw HistoryInputInvalid, an unreachable store ApiProblem 503. */
  readings(q: { device: string; from: number; to: number; fields?: string[] | undefined; points?: number | undefined; limit?: number | undefined; source?: "auto" | "raw" | "rollup" | undefined }): Promise<unknown>
  fleet(q: { field: string; from: number; to: number; by: "device" | "minute" | "total"; limit?: number | undefined }): Promise<unknown>
  alerts(q: { from: number; to: number; device?: string | undefined; rule?: string | undefined; severity?: AlertTransition["severity"] | undefined; limit?: number | undefined }): Promise<AlertTransition[]>
  alertTransitions(alertId: string): Promise<AlertTransition[]>
  /** Deliveries, dead letters, explanations of one alert (notifier / interpreter); default none. */
  alertExtras?(alertId: string): Promise<Record<string, unknown>>
  rulesCurrent(): Promise<RulesVersion | undefined>
  rulesHistory(): Promise<RulesVersion[]>
  rulesValidate(source: string, origin: string): RulesCheck
  /** Stores a new version; throws ApiProblem 400 with the issues when it does not compile. */
  rulesApply(source: string, origin: string): Promise<RulesVersion>
  rulesRollback(version: number): Promise<RulesVersion>
  clusterView(): Promise<{ partitions: number; members: unknown[]; shards: unknown[]; unowned: number[] }>
  streams(): Promise<unknown[]>
  /** Rows in the telemetry table (the dashboard derives stored/s). */
  storedRows(): Promise<number>
  /** The newest values of every device seen on the telemetry subjects (GET /api/v1/fleet/live); absent: 503. */
  fleetLive?(fields: ReadonlyArray<{ name: string; index: number }>): Promise<{ since: number; ids: string[]; lastAt: number[]; values: Record<string, Array<number | null>> }>
  /** New alert transitions as they are published (akis.alerts.>). Returns an unsubscribe. */
  subscribeAlerts(fn: (t: AlertTransition) => void): () => void
  /** Whether this node holds its shards with bounded lag (GET /readyz). */
  ready(): Promise<{ ready: boolean; reasons: string[] }>
  /** Prometheus text of this node's registry (GET /metrics). */
  metrics?(): Promise<{ contentType: string; body: string }>
  /** Called after each request (route template, status, seconds) for the request metrics. */
  observe?(route: string, method: string, status: number, seconds: number): void
}
