/**
 * The KV buckets the API owns. Kept apart so they can move into the cluster's one topology table
 * (runtime/nats/topology.ts) unchanged. The api role needs: read every akis KV/stream, request
 * `akis.rpc.*` and `akis.ctl.stats.*`, subscribe `akis.alerts.>`, write akis_rules, akis_tokens, akis_audit.
 */
export const apiBuckets = {
  /** `t.<id>` → TokenRecord (JSON); the secret's hash only. */
  tokens: { name: "akis_tokens", history: 1 },
  /** `log.<ms>.<rand>` → AuditRecord; `note.<hex alert id>.<ms>.<rand>` → AlertNote (acknowledgements, comments). */
  audit: { name: "akis_audit", history: 1 },
} as const
