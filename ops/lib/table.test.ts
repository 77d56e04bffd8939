import { describe, expect, test } from "bun:test"
import { age, bytes, keyValues, table } from "./table.ts"

describe("the CLI's table renderer", () => {
  test("aligns columns two spaces apart under a dashed rule, shows missing values as -, trims line ends", () => {
    expect(table(["node", "shards", "version"], [["n-1", 12, "0.1.0"], ["node-22", null, undefined]])).toBe([
      "node     shards  version",
      "-------  ------  -------",
      "n-1      12      0.1.0",
      "node-22  -       -",
    ].join("\n"))
  })

  test("right-aligns the columns asked for", () => {
    expect(table(["year", "disk"], [[1, "9.5 GB"], [10, "120 GB"]], { right: [1] })).toBe([
      "year    disk",
      "----  ------",
      "1     9.5 GB",
      "10    120 GB",
    ].join("\n"))
  })

  test("a table without rows is its header", () => {
    expect(table(["a", "bb"], [])).toBe("a  bb\n-  --")
  })

  test("key/value lists align the values and print objects as JSON", () => {
    expect(keyValues({ sent: 10, acked_latency_ms: { p50: 3 }, error: null })).toBe([
      "sent              10",
      'acked_latency_ms  {"p50":3}',
      "error             -",
    ].join("\n"))
  })

  test("ages and byte counts", () => {
    expect([age(1_234), age(180_000), age(null)]).toEqual(["1.2s", "3m", "-"])
    expect([bytes(512), bytes(1536), bytes(3 * 1024 ** 2), bytes(1.25 * 1024 ** 3)]).toEqual(["512 B", "1.5 KiB", "3.0 MiB", "1.25 GiB"])
  })
})
