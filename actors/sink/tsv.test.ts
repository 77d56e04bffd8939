import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import { escapeTsv, TsvWriter } from "./tsv.ts"

const text = (f: (w: TsvWriter) => void): string => {
  const w = new TsvWriter(4)
  f(w)
  return new TextDecoder().decode(w.take())
}

describe("TsvWriter", () => {
  test.each([
    [0, "0"], [-0, "-0"], [7, "7"], [-3, "-3"], [87.35, "87.35"], [0.0001, "0.0001"], [-0.5, "-0.5"], [123456789, "123456789"],
    [NaN, "nan"], [Infinity, "inf"], [-Infinity, "-inf"], [1e300, "1e+300"], [0.1 + 0.2, String(0.1 + 0.2)], [1e-7, "1e-7"],
  ])("writes %p as %p", (x, s) => {
    expect(text((w) => w.float(x))).toBe(s)
  })

  test("every finite double reads back to itself", () => {
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
      const back = Number(text((w) => w.float(x)))
      return Object.is(back, x)
    }), { numRuns: 20_000 })
  })

  test("short decimals read back exactly", () => {
    fc.assert(fc.property(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: 0, max: 4 }), (m, k) => {
      const x = m / 10 ** k
      return Number(text((w) => w.float(x))) === x
    }), { numRuns: 20_000 })
  })

  test("writes unsigned integers up to 2^53", () => {
    expect(text((w) => w.uint(2 ** 53 - 1))).toBe(String(2 ** 53 - 1))
  })

  test("escapes tabs, newlines and backslashes in strings", () => {
    expect(escapeTsv("a\tb\nc\\d\re")).toBe("a\\tb\\nc\\\\d\\re")
    expect(escapeTsv("plain")).toBe("plain")
  })
})
