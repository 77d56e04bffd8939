import { describe, expect, test } from "bun:test"
import fc from "fast-check"
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

  /** An independent FNV-1a: BigInt arithmetic over Node's own UTF-8 encoder (no Math.imul, no TextEncoder). */
  const reference = (s: string): number => {
    let h = 0x811c9dc5n
    for (const b of Buffer.from(s, "utf8")) h = ((h ^ BigInt(b)) * 0x01000193n) & 0xffffffffn
    return Number(h)
  }

  test("the reference agrees with the published FNV-1a vectors", () => {
    expect([reference(""), reference("a"), reference("foobar")]).toEqual([0x811c9dc5, 0xe40c292c, 0xbf9cf968])
  })

  test("hashes non-ASCII ids by their UTF-8 bytes, as an independent implementation does", () => {
    // Fixed values from the reference for 2-, 3- and 4-byte UTF-8 and a lone surrogate (U+FFFD).
    for (const id of ["bus-ü", "автобус-7", "巴士-12", "bus-🚌", "bus-\ud800"]) expect(fnv1a32(id)).toBe(reference(id))
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 40 }), (s) => fnv1a32(s) === reference(s)), { numRuns: 500 })
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 20 }), (s) => fnv1a32(s) === reference(s)), { numRuns: 500 })
  }, 30_000) // 1,000 random strings: seconds on a loaded machine
})
