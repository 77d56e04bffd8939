import { describe, expect, test } from "bun:test"
import type { ReadingBatch } from "../../../runtime/batch.ts"
import { readNative, readRowBinary, readTsv } from "../../../tests/support/telemetry-bodies.ts"
import { maxTs, minTs, RowColumns } from "./columns.ts"
import { nativeEncoder, rowBinaryEncoder, tsvEncoder } from "./row-encoders.ts"

const width = 4
const odd = [NaN, Infinity, -Infinity, -0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1 + 0.2, 87.35, -1e-7]
const ids = ["bus-0001", "dev\ttab\\slash\nline", "ünïcødé-✓-🚌", "x".repeat(200), "é".repeat(70)]

const batch = (): ReadingBatch => {
  const n = odd.length
  const values = new Float64Array(n * width)
  for (let i = 0; i < values.length; i++) values[i] = odd[(i * 3) % odd.length]!
  return {
    ids: Array.from({ length: n }, (_, i) => ids[i % ids.length]!),
    seqs: Float64Array.from({ length: n }, (_, i) => [0, 1, 2 ** 32, 2 ** 53 - 1][i % 4]!),
    ts: Float64Array.from({ length: n }, (_, i) => [minTs, maxTs - 1, 1_795_000_000_999, 1_795_000_000_000][i % 4]!),
    width, values, schema: 1, recvAt: 0,
  }
}

const fill = (b: ReadingBatch): RowColumns => {
  const rows = new RowColumns(width, 2) // small, so it grows
  for (let i = 0; i < b.ids.length; i++) rows.push(b, i, b.ts[i]!, b.seqs[i]!)
  return rows
}

describe("row encoders", () => {
  test("TabSeparated and RowBinary carry the same rows, bit for bit", () => {
    const b = batch()
    const tsv = readTsv(tsvEncoder().encode(fill(b), 1_795_000_001).body)
    const bin = readRowBinary(rowBinaryEncoder().encode(fill(b), 1_795_000_001).body, width)
    expect(bin.length).toBe(b.ids.length)
    expect(bin).toEqual(tsv)
    bin.forEach((r, i) => {
      expect(r.slice(0, 5)).toEqual([b.ids[i]!, b.seqs[i]!, Math.floor(b.ts[i]! / 1000), b.ts[i]! % 1000, 1_795_000_001])
      r.slice(5).forEach((x, f) => expect(Object.is(x, b.values[i * width + f])).toBe(true))
      tsv[i]!.slice(5).forEach((x, f) => expect(Object.is(x, b.values[i * width + f])).toBe(true))
    })
  })

  test("an encoder empties the buffer and is reused for the next segment", () => {
    const enc = rowBinaryEncoder()
    const rows = fill(batch())
    const first = enc.encode(rows, 1)
    expect(rows.n).toBe(0)
    expect(enc.encode(rows, 1).body.length).toBe(0)
    const again = enc.encode(fill(batch()), 1)
    expect(again).toEqual(first)
  })

  test("a re-stamp rewrites every row's ingested and nothing else, in both formats", () => {
    const b = batch()
    const [bin, tsv] = [rowBinaryEncoder().encode(fill(b), 1_795_000_001), tsvEncoder().encode(fill(b), 1_795_000_001)]
    rowBinaryEncoder().restamp(bin, 1_795_000_777)
    tsvEncoder().restamp(tsv, 1_795_000_777)
    const expected = readRowBinary(rowBinaryEncoder().encode(fill(b), 1_795_000_777).body, width)
    expect(readRowBinary(bin.body, width)).toEqual(expected)
    expect(readTsv(tsv.body)).toEqual(expected)
    expect(expected.map((r) => r[4])).toEqual(b.ids.map(() => 1_795_000_777))
  })

  test("Native carries the rows of RowBinary bit for bit, re-stamps in place, and its blocks concatenate", () => {
    const fields = Array.from({ length: width }, (_, f) => `f${f}`)
    const b = batch()
    const native = nativeEncoder(fields).encode(fill(b), 1_795_000_001)
    const expected = readRowBinary(rowBinaryEncoder().encode(fill(b), 1_795_000_001).body, width)
    const rows = readNative(native.body, width)
    expect(rows).toEqual(expected)
    rows.forEach((r, i) => r.slice(5).forEach((x, f) => expect(Object.is(x, b.values[i * width + f])).toBe(true)))
    nativeEncoder(fields).restamp(native, 1_795_000_777)
    expect(readNative(native.body, width)).toEqual(readRowBinary(rowBinaryEncoder().encode(fill(b), 1_795_000_777).body, width))
    const enc = nativeEncoder(fields)
    const [one, two] = [enc.encode(fill(b), 1).body, enc.encode(fill(b), 1).body]
    const both = new Uint8Array(one.length + two.length)
    both.set(one)
    both.set(two, one.length)
    expect(readNative(both, width)).toEqual([...readNative(one, width), ...readNative(two, width)])
  })
})
