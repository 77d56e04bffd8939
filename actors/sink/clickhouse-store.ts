import { ClickHouseLogLevel, createClient, type ClickHouseClient } from "@clickhouse/client"
import { Readable } from "node:stream"
import { StoreRefused, StoreUnavailable, type StoreError } from "./errors.ts"
import { pinnedSettings, type InsertFormat, type Store } from "./store.ts"

/** Where the HTTP store connects. */
export interface ClickHouseStoreConfig {
  readonly url: string
  readonly database?: string | undefined
  readonly user?: string | undefined
  readonly password?: string | undefined
  readonly requestTimeoutMs?: number | undefined
  /** Concurrent HTTP connections (inserts from several shard sinks run in parallel). */
  readonly maxOpenConnections?: number | undefined
}

/** Server-side errors that are the network's or the clock's fault, not the statement's (by ClickHouse error name). */
const transientServerErrors = new Set([
  "TIMEOUT_EXCEEDED", "SOCKET_TIMEOUT", "NETWORK_ERROR", "CANNOT_READ_FROM_SOCKET", "CANNOT_WRITE_TO_SOCKET", "ALL_CONNECTION_TRIES_FAILED",
])

/**
 * Translates a client error into a {@link StoreError} once, here at the adapter (STYLE §4), from
 * the error's structure, never its text: a server-side error carries ClickHouse's numeric code and
 * error name (refused, unless the name says timeout or socket); everything else (connection
 * refused or reset, the client's own request timeout) is transport trouble.
 */
export const storeErrorOf = (op: string, cause: unknown): StoreError => {
  const e = cause as { code?: unknown; message?: unknown; type?: unknown } | null
  const message = typeof e?.message === "string" ? e.message : String(cause)
  const serverError = typeof e?.code === "string" && /^\d+$/.test(e.code)
  if (serverError && !transientServerErrors.has(String(e?.type))) return new StoreRefused({ op, message, code: e!.code as string, cause })
  return new StoreUnavailable({ op, message, cause })
}

/**
 * The ClickHouse HTTP server as a {@link Store}, via `@clickhouse/client` (the only file that
 * imports it). Tested against 18.16.1; settings that differ between versions are pinned.
 */
export const makeClickHouseStore = (cfg: ClickHouseStoreConfig): Store => {
  const client: ClickHouseClient = createClient({
    url: cfg.url,
    database: cfg.database ?? "default",
    username: cfg.user ?? "default",
    password: cfg.password ?? "",
    request_timeout: cfg.requestTimeoutMs ?? 30_000,
    max_open_connections: cfg.maxOpenConnections ?? 16,
    clickhouse_settings: { ...pinnedSettings },
    // 18.16 closes idle keep-alive sockets after 3 s; stay below it (research §B2).
    keep_alive: { enabled: true, idle_socket_ttl: 2000 },
    // Failures surface as StoreError to the caller, which counts and logs them; no second log here.
    log: { level: ClickHouseLogLevel.OFF },
  })
  return {
    kind: "clickhouse",
    binaryInsert: true,
    async exec(sql) {
      try {
        await client.command({ query: sql })
      } catch (cause) {
        throw storeErrorOf("exec", cause)
      }
    },
    async query<T>(sql: string) {
      try {
        const rs = await client.query({ query: sql, format: "JSONEachRow" })
        return await rs.json<T>()
      } catch (cause) {
        throw storeErrorOf("query", cause)
      }
    },
    async insert(table: string, columns: ReadonlyArray<string>, format: InsertFormat, body: Uint8Array | string) {
      try {
        // exec sends the pre-formatted body as-is for every format (insert() wants objects for JSON formats).
        const r = await client.exec({
          query: `INSERT INTO ${table} (${columns.join(", ")}) FORMAT ${format}`,
          values: Readable.from([typeof body === "string" ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength)], { objectMode: false }),
        })
        // The response must be consumed, otherwise the keep-alive socket is not reused (research §B2).
        for await (const _ of r.stream) void _
      } catch (cause) {
        throw storeErrorOf("insert", cause)
      }
    },
    close: () => client.close(),
  }
}
