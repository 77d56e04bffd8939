import { describe, expect, test } from "bun:test"
import { BatchBuilder, BatchDecodeError, bootOf, decodeBatch, encodeBatch, noBoot } from "./batch.ts"

describe("reading batch", () => {
  test("round-trips through msgpack with every column intact", () => {
    const b = new BatchBuilder(3, 1, 2)
    for (let i = 0; i < 5; i++) b.push(`bus-${i}`, i + 1, 1_700_000_000_000 + i, [i, i * 2, Number.NaN])
    const batch = decodeBatch(encodeBatch(b.take(42)))
    expect(batch.ids).toEqual(["bus-0", "bus-1", "bus-2", "bus-3", "bus-4"])
    expect([...batch.seqs]).toEqual([1, 2, 3, 4, 5])
    expect(batch.ts[4]).toBe(1_700_000_000_004)
    expect(batch.values[4 * 3 + 1]).toBe(8)
    expect(Number.isNaN(batch.values[2]!)).toBe(true)
    expect(batch.recvAt).toBe(42)
  })

  test("take() starts a fresh batch", () => {
    const b = new BatchBuilder(1, 1)
    b.push("a", 1, 1, [1])
    b.take(0)
    expect(b.size).toBe(0)
    b.push("b", 2, 2, [2])
    expect(b.take(0).ids).toEqual(["b"])
  })

  test("carries each reading's boot; a batch without boots has no boots column (v1 bytes)", () => {
    const b = new BatchBuilder(1, 1)
    b.push("a", 1, 1, [1])
    const legacy = b.take(0)
    expect(legacy.boots).toBeUndefined()
    expect(decodeBatch(encodeBatch(legacy)).boots).toBeUndefined()
    b.push("a", 1, 1, [1])
    b.push("b", 7, 2, [2], 0, 2 ** 52 + 3)
    const withBoots = decodeBatch(encodeBatch(b.take(0)))
    expect([0, 1].map((i) => bootOf(withBoots, i))).toEqual([noBoot, 2 ** 52 + 3])
    b.push("c", 1, 1, [1])
    expect(b.take(0).boots).toBeUndefined() // the flag resets with each batch
  })

  test("refuses bytes that are not a batch", () => {
    expect(() => decodeBatch(new Uint8Array([0x93, 1, 2, 3]))).toThrow(BatchDecodeError)
  })
})
