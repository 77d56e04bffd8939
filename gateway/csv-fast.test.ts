import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import { cell, CellStatus, scanCell } from "./csv-fast.ts"

const enc = new TextEncoder()
const scan = (text: string) => {
  const b = enc.encode(text)
  const st = scanCell(b, 0, b.length)
  return st === CellStatus.ok ? cell.value : st === CellStatus.empty ? "empty" : "slow"
}

describe("scanCell", () => {
  test.each([
    ["0", 0], ["42", 42], ["-3.5", -3.5], ["+7", 7], ["0.1", 0.1], [".5", 0.5], ["5.", 5], ["1e3", 1000], ["2.5E-3", 0.0025],
    ["", "empty"], ["NaN", "slow"], ["Infinity", "slow"], ["0x10", "slow"], [" 1", "slow"], ["1e", "slow"], ["-", "slow"],
    ["1234567890123456", "slow"], ["1e30", "slow"],
  ] as const)("%p → %p", (text, want) => expect(scan(text)).toBe(want))

  test("agrees exactly with Number() whenever it takes the fast path (property)", () => {
    const num = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
      fc.tuple(fc.integer({ min: -999999, max: 999999 }), fc.nat(99999)).map(([a, b]) => `${a}.${b}`),
      fc.tuple(fc.integer({ min: -99999, max: 99999 }), fc.integer({ min: -30, max: 30 })).map(([a, e]) => `${a}e${e}`),
    )
    fc.assert(fc.property(num, (text) => {
      const v = scan(text)
      if (v !== "slow") expect(Object.is(v, Number(text)) || (v === 0 && Number(text) === 0)).toBe(true)
    }), { numRuns: 5000 })
  })
})
