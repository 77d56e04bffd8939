import { describe, expect, test } from "bun:test"
import { ClickHouseError } from "@clickhouse/client"
import { makeChdbStore } from "./chdb-store.ts"
import { makeClickHouseStore, storeErrorOf } from "./clickhouse-store.ts"
import { storeErrorTag } from "./errors.ts"

/** Each adapter translates its client's failures once, by their structure; callers switch on `_tag`. */
describe("store error translation", () => {
  test("ClickHouse HTTP: a statement the server refuses is StoreRefused, with its code", () => {
    const e = storeErrorOf("insert", new ClickHouseError({ message: "Cannot parse input", code: "27", type: "CANNOT_PARSE_INPUT_ASSERTION_FAILED" }))
    expect(e._tag).toBe("StoreRefused")
    expect(e).toMatchObject({ op: "insert", code: "27", message: "Cannot parse input" })
  })

  test("ClickHouse HTTP: transport trouble and server-side timeouts are StoreUnavailable", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })
    const clientTimeout = new Error("Timeout error.")
    const serverTimeout = new ClickHouseError({ message: "Timeout exceeded: elapsed 30 seconds", code: "159", type: "TIMEOUT_EXCEEDED" })
    expect([refused, clientTimeout, serverTimeout, "odd"].map((c) => storeErrorOf("query", c)._tag)).toEqual(["StoreUnavailable", "StoreUnavailable", "StoreUnavailable", "StoreUnavailable"])
  })

  test("ClickHouse HTTP: an unreachable server surfaces as StoreUnavailable from the store itself", async () => {
    const store = makeClickHouseStore({ url: "http://127.0.0.1:1", requestTimeoutMs: 2_000 })
    const e = await store.query("SELECT 1").catch((x: unknown) => x)
    await store.close()
    expect(storeErrorTag(e)).toBe("StoreUnavailable")
  })

  test("chDB: a failing statement is StoreRefused", async () => {
    const store = makeChdbStore()
    const e = await store.query("SELECT * FROM no_such_table_here").catch((x: unknown) => x)
    await store.close()
    expect(storeErrorTag(e)).toBe("StoreRefused")
    expect(storeErrorTag(new Error("plain"))).toBeUndefined()
  })
})
