import { expect, test } from "bun:test"
import { Effect } from "effect"
import { ClickHouseStore } from "./store-service.ts"

test("the chDB layer provides a working store and closes it with its scope", async () => {
  const rows = await Effect.runPromise(
    Effect.gen(function* () {
      const store = yield* ClickHouseStore
      return yield* Effect.promise(() => store.query<{ x: number; big: number; a: boolean }>(
        "SELECT 41 + 1 AS x, toUInt64(18446744073709551615) AS big, getSetting('async_insert') AS a",
      ))
    }).pipe(Effect.provide(ClickHouseStore.layerChdb())),
  )
  expect(rows[0]!.x).toBe(42)
  expect(typeof rows[0]!.big).toBe("number") // 64-bit integers unquoted
  expect(rows[0]!.a).toBe(false) // chDB 26.7 defaults async_insert to true; the store pins it off
})
