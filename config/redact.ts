/**
 * Secrets never reach a log line: credentials in URLs (`http://user:pw@host`, `?password=`),
 * values of keys named like passwords or tokens, bearer tokens and nkey seeds are masked. Pure;
 * used by every process's `log` (ops/main-node.ts, the gateway's log) and by config errors.
 */

const mask = "***"

/** Key names whose values are secrets (config `clickhouse.password`, `nats.pass`, api tokens...). */
export const isSecretKey = (key: string): boolean =>
  /^(pass|passwd|password|secret|token|apikey|api_key|seed|authorization|cookie)$/i.test(key) || /(password|secret|token)$/i.test(key)

/** `s` with URL user-info passwords, secret query parameters, bearer tokens and nkey seeds masked. */
export const redactString = (s: string): string =>
  s
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]*):([^/@\s]*)@/gi, (_m, scheme: string, user: string) => `${scheme}${user}:${mask}@`)
    .replace(/([?&;](?:password|passwd|pass|token|secret|api_key|apikey)=)[^&\s"']*/gi, `$1${mask}`)
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, `$1 ${mask}`)
    .replace(/\bS[UANOCPX][A-Z2-7]{56}\b/g, mask)

/** A deep copy of `v` with secrets masked (strings redacted, secret-named keys replaced). */
export const redact = (v: unknown, depth = 0): unknown => {
  if (typeof v === "string") return redactString(v)
  if (depth > 8 || v === null || typeof v !== "object") return v
  if (Array.isArray(v)) return v.map((x) => redact(x, depth + 1))
  if (v instanceof Error) return redactString(String(v))
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v)) out[k] = isSecretKey(k) && x !== "" && x !== undefined && x !== null ? mask : redact(x, depth + 1)
  return out
}
