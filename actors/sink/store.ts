/**
 * The ClickHouse store port: the three calls the sink, migrations and history queries need.
 * Two adapters implement it (clickhouse-store.ts over HTTP, chdb-store.ts in-process); all SQL
 * above this port is the same for both, written for the oldest server we support (18.16).
 */
export interface Store {
  /** `"clickhouse"` (HTTP server) or `"chdb"` (embedded). */
  readonly kind: "clickhouse" | "chdb"
  /** Whether {@link insert} takes binary bodies (`Native`, `RowBinary`); stores without it get text formats only. */
  readonly binaryInsert: boolean
  /** Runs a statement that returns nothing (DDL, ALTER, INSERT … SELECT). */
  exec(sql: string): Promise<void>
  /** Runs a SELECT (without FORMAT) and returns its rows; 64-bit integers come back as numbers. */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>
  /** Inserts a pre-formatted body (`format` rows in `columns` order) into `table`. */
  insert(table: string, columns: ReadonlyArray<string>, format: InsertFormat, body: Uint8Array | string): Promise<void>
  /** Releases connections / the embedded session. */
  close(): Promise<void>
}

/**
 * Insert formats both 18.16 and 26.x read (18.16 has no JSONCompactEachRow). `Native` and `RowBinary` go only
 * to a store with `binaryInsert` (the HTTP store sends raw bodies; chdb's insert takes text formats only).
 */
export type InsertFormat = "TabSeparated" | "CSV" | "JSONEachRow" | "RowBinary" | "Native"

/**
 * Settings pinned on every query of every adapter because their defaults differ between
 * ClickHouse versions (research §B1/§B2): unquoted 64-bit integers in JSON, synchronous inserts
 * (26.2–26.3 defaulted async_insert to 1; 18.16 does not know the setting, so it is only sent to chdb).
 */
export const pinnedSettings = {
  output_format_json_quote_64bit_integers: 0,
  output_format_json_quote_denormals: 0,
} as const

/** Settings pinned on chdb only (unknown on 18.16). */
export const pinnedSettingsModern = { async_insert: 0 } as const
