import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { decodeCsv, decodeCsvSlow, decodeJson, decodeJsonSlow, newScratch } from "./decode.ts"
import { scanJson, SLOW } from "./json-fast.ts"

const schema = loadDeviceSchema()
const now = 1_700_000_000_000
const lim = { maxFutureSkewMs: 60_000, maxPastSkewMs: 60_000 }
const enc = new TextEncoder()

/** Random readings: mostly valid, sometimes out of range, wrong kind, unknown key, null, odd seq/ts. */
const value = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: -1000, max: 6000, noNaN: true }).map((v) => Math.round(v * 100) / 100) },
  { weight: 2, arbitrary: fc.integer({ min: -2, max: 300 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(true, false, null, "x", 1e300, -0) },
)
const reading = fc.record({
  seq: fc.oneof(fc.nat(), fc.constantFrom<unknown>(-1, 1.5, "7", null)),
  ts: fc.oneof(fc.integer({ min: now - 70_000, max: now + 70_000 }), fc.constant<unknown>("now")),
  device: fc.constantFrom<unknown>("bus-0001", "", undefined, 5),
  fields: fc.dictionary(fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...schema.fields.map((f) => f.name)) }, { weight: 1, arbitrary: fc.constantFrom("warp", "dévice") }), value, { maxKeys: 10 }),
})

const same = (a: ReturnType<typeof newScratch>, b: ReturnType<typeof newScratch>) => {
  expect([a.device, a.seq, a.ts]).toEqual([b.device, b.seq, b.ts])
  expect(Array.from(a.values).map(String)).toEqual(Array.from(b.values).map(String))
}

describe("JSON fast path", () => {
  test("gives exactly the general path's answer for random readings (property)", () => {
    fc.assert(fc.property(reading, (r) => {
      const obj: Record<string, unknown> = { seq: r.seq, ts: r.ts, ...r.fields }
      if (r.device !== undefined) obj.device = r.device
      const bytes = enc.encode(JSON.stringify(obj))
      const a = newScratch(schema)
      const b = newScratch(schema)
      const fast = decodeJson(bytes, schema, a, now, lim)
      const slow = decodeJsonSlow(bytes, schema, b, now, lim)
      expect(fast).toEqual(slow)
      if (!fast) same(a, b)
    }), { numRuns: 3000 })
  })

  test("CSV fast path gives the general path's answer for random rows (property)", () => {
    const cellArb = fc.oneof(fc.constant(""), fc.double({ min: -100, max: 2000, noNaN: true }).map(String), fc.constantFrom("x", " 1", "1e999", "NaN"))
    fc.assert(fc.property(fc.array(cellArb, { minLength: 48, maxLength: 48 }), fc.nat(10), (cells, seq) => {
      const bytes = enc.encode(`bus-0001,${seq},${now},${cells.join(",")}`)
      const a = newScratch(schema)
      const b = newScratch(schema)
      const fast = decodeCsv(bytes, schema, a, now, lim)
      expect(fast).toEqual(decodeCsvSlow(bytes, schema, b, now, lim))
      if (!fast) same(a, b)
    }), { numRuns: 2000 })
  })

  test.each([
    ['{"seq":1, "ts":2}', "whitespace"],
    ['{"se\\u0071":1}', "escapes"],
    ['{"seq":+1}', "a plus sign"],
    ['{"seq":01}', "a leading zero"],
    ['{"seq":1.}', "a bare decimal point"],
    ['{"seq":1,}', "a trailing comma"],
    ['{"warp":1}', "an unknown key"],
  ])("leaves %s (%s) to the general path", (text) => {
    expect(scanJson(enc.encode(text), schema, new Float64Array(48))).toBe(SLOW)
  })
})
