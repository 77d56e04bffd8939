import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import { RowBinaryWriter, rowBinaryString } from "./row-binary.ts"

const bytes = (f: (w: RowBinaryWriter) => void): Uint8Array => {
  const w = new RowBinaryWriter(4)
  f(w)
  return w.take()
}

describe("RowBinaryWriter", () => {
  test.each([
    [0, [0x00]], [1, [0x01]], [127, [0x7f]], [128, [0x80, 0x01]], [300, [0xac, 0x02]], [16_383, [0xff, 0x7f]], [16_384, [0x80, 0x80, 0x01]],
  ])("prefixes a %p-byte string with its LEB128 length %p", (n, prefix) => {
    const s = rowBinaryString(new Uint8Array(n).fill(0x61))
    expect([...s.subarray(0, prefix.length)]).toEqual(prefix)
    expect(s.length).toBe(prefix.length + n)
  })

  test("writes UInt64 below 2^53 as little-endian halves", () => {
    for (const n of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 1_795_000_000_123]) {
      const b = bytes((w) => w.u64(n))
      expect(new DataView(b.buffer).getBigUint64(0, true)).toBe(BigInt(n))
    }
  })

  test("writes UInt16 and UInt32 little-endian", () => {
    expect([...bytes((w) => w.u16(999))]).toEqual([0xe7, 0x03])
    expect([...bytes((w) => w.u32(4_294_967_295))]).toEqual([0xff, 0xff, 0xff, 0xff])
  })

  test("copies Float64 runs bit for bit, NaN, -0 and denormals included, growing the buffer", () => {
    fc.assert(fc.property(fc.array(fc.double(), { minLength: 1, maxLength: 60 }), fc.nat(3), (xs, skip) => {
      const src = new Float64Array(xs)
      const from = Math.min(skip, xs.length - 1)
      const b = bytes((w) => {
        w.u16(7) // puts the floats at an unaligned offset
        w.f64s(src, from, xs.length - from)
        w.f64(xs[0]!)
      })
      const v = new DataView(b.buffer)
      for (let i = from; i < xs.length; i++) if (!Object.is(v.getFloat64(2 + (i - from) * 8, true), xs[i])) return false
      return b.length === 2 + (xs.length - from + 1) * 8 && Object.is(v.getFloat64(b.length - 8, true), xs[0])
    }), { numRuns: 2_000 })
  })

  test("take hands out what was written and starts over", () => {
    const w = new RowBinaryWriter(2)
    w.bytes(rowBinaryString(new TextEncoder().encode("bus-✓")))
    expect(w.length).toBe(8)
    expect(w.take().length).toBe(8)
    expect(w.length).toBe(0)
  })
})
