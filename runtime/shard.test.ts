import { describe, expect, test } from "bun:test"
import { fnv1a32, fnv1a32Bytes, shardOf } from "./shard.ts"

describe("shard function", () => {
  test("matches the partitions nats-server computed for dev1..dev5 with N=4", () => {
    // Checked against nats-server 2.9.10 {{partition(4,1)}} (research/nats-clickhouse.md §A1).
    expect(["dev1", "dev2", "dev3", "dev4", "dev5"].map((d) => shardOf(d, 4))).toEqual([3, 2, 1, 0, 3])
  })

  test("matches the FNV-1a reference vectors", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5)
    expect(fnv1a32("a")).toBe(0xe40c292c)
    expect(fnv1a32("foobar")).toBe(0xbf9cf968)
  })

  test("hashes non-ASCII ids by their UTF-8 bytes", () => {
    expect(fnv1a32("bus-ü")).toBe(fnv1a32Bytes(new TextEncoder().encode("bus-ü")))
  })
})
