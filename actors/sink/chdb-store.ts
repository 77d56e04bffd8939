import { Session } from "chdb"
import { StoreRefused } from "./errors.ts"
import { pinnedSettings, pinnedSettingsModern, type InsertFormat, type Store } from "./store.ts"

const settingsClause = Object.entries({ ...pinnedSettings, ...pinnedSettingsModern }).map(([k, v]) => `${k}=${v}`).join(", ")

/**
 * chDB (ClickHouse 26.x in-process) as a {@link Store}, for single-node use: the data lives in
 * `path` (a temp dir when omitted). The same SQL as the HTTP store; pinned settings are applied
 * with `SET` once per session.
 */
export const makeChdbStore = (path?: string): Store => {
  const session = path === undefined ? new Session() : new Session(path)
  const run = async (op: string, sql: string, format = "TabSeparated"): Promise<string> => {
    try {
      return (await session.queryAsync(sql, { format })).text()
    } catch (cause) {
      throw new StoreRefused({ op, message: (cause as Error)?.message ?? String(cause), cause })
    }
  }
  const ready = run("settings", `SET ${settingsClause}`)
  return {
    kind: "chdb",
    // session.insert whitelists text formats ("Unsupported raw insert format \"RowBinary\"", chdb 26.x npm).
    binaryInsert: false,
    async exec(sql) {
      await ready
      await run("exec", sql)
    },
    async query<T>(sql: string) {
      await ready
      const text = await run("query", sql, "JSONEachRow")
      const rows: T[] = []
      for (const line of text.split("\n")) if (line.length > 0) rows.push(JSON.parse(line) as T)
      return rows
    },
    async insert(table: string, columns: ReadonlyArray<string>, format: InsertFormat, body: Uint8Array | string) {
      if (format === "RowBinary" || format === "Native") throw new StoreRefused({ op: "insert", message: "chdb takes text insert formats only (binaryInsert is false)" })
      await ready
      try {
        await session.insert({ table, columns, format, values: body })
      } catch (cause) {
        throw new StoreRefused({ op: "insert", message: (cause as Error)?.message ?? String(cause), cause })
      }
    },
    async close() {
      session.close()
    },
  }
}
