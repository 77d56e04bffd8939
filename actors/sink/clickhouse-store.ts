import { ClickHouseLogLevel, createClient, type ClickHouseClient } from "@clickhouse/client"
import { Readable } from "node:stream"
import { StoreError } from "./errors.ts"
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

const retryableCodes = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "ConnectionRefused", "ConnectionClosed"])

/** Translates a client error into {@link StoreError} once, here at the adapter (STYLE §4). */
const refail = (op: string, cause: unknown): StoreError => {
  const e = cause as { code?: unknown; message?: unknown; type?: unknown }
  const message = typeof e?.message === "string" ? e.message : String(cause)
  // Server-side SQL errors carry a numeric ClickHouse code; everything else is transport trouble.
  const sqlError = typeof e?.code === "string" && /^\d+$/.test(e.code)
  const retryable = !sqlError || retryableCodes.has(String(e?.code)) || /timeout|socket|ECONN|closed/i.test(message)
  return new StoreError({ op, message, retryable, cause })
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
        throw refail("exec", cause)
      }
    },
    async query<T>(sql: string) {
      try {
        const rs = await client.query({ query: sql, format: "JSONEachRow" })
        return await rs.json<T>()
      } catch (cause) {
        throw refail("query", cause)
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
        throw refail("insert", cause)
      }
    },
    close: () => client.close(),
  }
}
