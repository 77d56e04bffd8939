import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import { Packr } from "msgpackr"
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

  /** Every value back bit for bit (NaN as NaN: it marks a missing field, its payload means nothing). */
  const sameValues = (a: Float64Array, b: Float64Array) => {
    expect(b.length).toBe(a.length)
    for (let i = 0; i < a.length; i++) if (!(Object.is(a[i], b[i]) || (Number.isNaN(a[i]!) && Number.isNaN(b[i]!)))) throw new Error(`value ${i}: ${a[i]} came back as ${b[i]}`)
  }

  test("values come back bit for bit, whatever mix of decimals, doubles, NaN, -0, infinities and huge numbers a column holds", () => {
    const decimal = fc.tuple(fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }), fc.integer({ min: 0, max: 9 })).map(([q, k]) => Number((q / 10 ** k).toFixed(k)))
    const value = fc.oneof(decimal, decimal, fc.double(), fc.constantFrom(Number.NaN, -0, 0, Infinity, -Infinity, 2 ** 31, -(2 ** 31), 2 ** 31 - 1, 1e300, 5e-324))
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 20 }), fc.infiniteStream(value), (width, n, xs) => {
      const b = new BatchBuilder(width, 1, 1)
      const it = xs[Symbol.iterator]()
      for (let i = 0; i < n; i++) b.push(`d${i}`, i, i, Array.from({ length: width }, () => it.next().value as number))
      const sent = b.take(0)
      sameValues(sent.values, decodeBatch(encodeBatch(sent)).values)
    }), { numRuns: 500 })
  })

  test("a bus's readings travel in about half the bytes of one Float64Array, and still read back exactly", () => {
    const b = new BatchBuilder(48, 1)
    for (let i = 0; i < 100; i++) {
      const row = Array.from({ length: 48 }, (_, f) => (f === 0 ? 52.123456 + i * 1e-6 : f === 1 ? 1500 + i : f % 5 === 0 ? Number.NaN : Math.round((f * 3.7 + i) * 10) / 10))
      b.push(`bus-${i % 10}`, i, 1_700_000_000_000 + i, row)
    }
    const sent = b.take(0)
    const bytes = encodeBatch(sent)
    expect(bytes.length).toBeLessThan(100 * 48 * 8 * 0.6)
    sameValues(sent.values, decodeBatch(bytes).values)
  })

  test("reads version 1 batches (one Float64Array of values) from gateways not yet upgraded", () => {
    const v1 = new Packr({ useRecords: false, moreTypes: true }).pack([1, ["a", "b"], Float64Array.of(1, 2), Float64Array.of(10, 20), 2, Float64Array.of(0.1, Number.NaN, -0, 4), 3, 99])
    const b = decodeBatch(v1)
    expect(b.ids).toEqual(["a", "b"])
    sameValues(b.values, Float64Array.of(0.1, Number.NaN, -0, 4))
    expect([b.schema, b.recvAt]).toEqual([3, 99])
  })

  test("refuses a version 2 batch whose value columns do not add up", () => {
    const packr = new Packr({ useRecords: false, moreTypes: true })
    const v2 = (scales: Int8Array, ints: Int32Array, floats: Float64Array) => packr.pack([2, ["a", "b"], Float64Array.of(1, 2), Float64Array.of(1, 2), 2, scales, ints, floats, 1, 0])
    expect(decodeBatch(v2(Int8Array.of(0, -1), Int32Array.of(1, 2), Float64Array.of(3, 4))).values).toEqual(Float64Array.of(1, 3, 2, 4))
    expect(() => decodeBatch(v2(Int8Array.of(0, -1), Int32Array.of(1, 2, 3), Float64Array.of(3, 4)))).toThrow(BatchDecodeError)
    expect(() => decodeBatch(v2(Int8Array.of(0), Int32Array.of(1, 2), Float64Array.of(3, 4)))).toThrow(BatchDecodeError)
    expect(() => decodeBatch(v2(Int8Array.of(0, 12), Int32Array.of(1, 2, 3, 4), new Float64Array(0)))).toThrow(BatchDecodeError)
  })
  test("encode() gives the bytes of encodeBatch(take()) and leaves the builder empty for the next batch", () => {
    const fill = (b: BatchBuilder, from: number) => {
      for (let i = 0; i < 5; i++) b.push(`bus-${from + i}`, from + i, 1_700_000_000_000 + i, [from + i + 0.5, Number.NaN, -0], 0, i === 3 ? 7 : noBoot)
    }
    const [a, b] = [new BatchBuilder(3, 1, 2), new BatchBuilder(3, 1, 2)]
    for (const from of [0, 100]) {
      fill(a, from)
      fill(b, from)
      expect(a.encode(9)).toEqual(encodeBatch(b.take(9)))
      expect(a.size).toBe(0)
    }
    b.push("x", 1, 1, [1, 2, 3])
    a.push("x", 1, 1, [1, 2, 3])
    expect(decodeBatch(a.encode(1)).boots).toBeUndefined() // the boot flag resets too
  })
})
