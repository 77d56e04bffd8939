import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { decodeCsv, decodeCsvSlow, decodeJson, decodeJsonSlow, newScratch, slowPathLines } from "./decode.ts"
import { scanJson, SLOW } from "./json-fast.ts"

const schema = loadDeviceSchema()
const now = 1_700_000_000_000
const lim = { maxFutureSkewMs: 60_000, maxPastSkewMs: 60_000 }
const enc = new TextEncoder()

/** A valid value of field `f` (within its range, an integer where the field is one). */
function inRange(f: (typeof schema.fields)[number]): fc.Arbitrary<number> {
  return f.kind === "float"
    ? fc.double({ min: f.min, max: f.max, noNaN: true }).map((v) => Math.min(f.max, Math.max(f.min, Math.round(v * 100) / 100)))
    : fc.integer({ min: Math.ceil(f.min), max: Math.floor(f.max) })
}

/** Random readings: mostly valid, sometimes out of range, wrong kind, unknown key, null, odd seq/ts. */
const value = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: -1000, max: 6000, noNaN: true }).map((v) => Math.round(v * 100) / 100) },
  { weight: 2, arbitrary: fc.integer({ min: -2, max: 300 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(true, false, null, "x", 1e300, -0) },
)
const reading = fc.record({
  seq: fc.oneof(fc.nat(), fc.constantFrom<unknown>(-1, 1.5, "7", null)),
  ts: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: now - 70_000, max: now + 70_000 }) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>("now", -1, 0, 1.5, now + 0.5, 1e20, -1e20, null, now * 1000) },
  ),
  device: fc.constantFrom<unknown>("bus-0001", "", undefined, 5),
  fields: fc.array(fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...schema.fields).chain((f) => fc.tuple(fc.constant(f.name), inRange(f))) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...schema.fields.map((f) => f.name)), value) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom("warp", "dévice"), value) },
  ), { maxLength: 10 }).map((kv) => Object.fromEntries(kv)),
})

const same = (a: ReturnType<typeof newScratch>, b: ReturnType<typeof newScratch>) => {
  expect([a.device, a.seq, a.ts]).toEqual([b.device, b.seq, b.ts])
  expect(Array.from(a.values).map(String)).toEqual(Array.from(b.values).map(String))
}

/** Runs the production decoder and the general path on the same bytes; returns whether the production one took its fast path. */
const agree = (kind: "json" | "csv", bytes: Uint8Array): boolean => {
  const a = newScratch(schema)
  const b = newScratch(schema)
  const before = slowPathLines[kind]
  const got = kind === "json" ? decodeJson(bytes, schema, a, now, lim) : decodeCsv(bytes, schema, a, now, lim)
  const fast = slowPathLines[kind] === before
  const want = kind === "json" ? decodeJsonSlow(bytes, schema, b, now, lim) : decodeCsvSlow(bytes, schema, b, now, lim)
  expect(got).toEqual(want)
  if (!got) same(a, b)
  return fast
}

/** Counts of the paths taken and of accepted / refused lines over a property run: each must be exercised. */
const tallyPaths = () => {
  const t = { fast: 0, slow: 0, accepted: 0, refused: 0 }
  return { t, note: (fast: boolean, refused: boolean) => { t[fast ? "fast" : "slow"]++; t[refused ? "refused" : "accepted"]++ } }
}

describe("JSON fast path", () => {
  test("gives exactly the general path's answer for random readings (property), taking both paths", () => {
    const { t, note } = tallyPaths()
    fc.assert(fc.property(reading, (r) => {
      const obj: Record<string, unknown> = { seq: r.seq, ts: r.ts, ...r.fields }
      if (r.device !== undefined) obj.device = r.device
      const bytes = enc.encode(JSON.stringify(obj))
      const fast = agree("json", bytes)
      note(fast, decodeJsonSlow(bytes, schema, newScratch(schema), now, lim) !== undefined)
    }), { numRuns: 3000 })
    // Both paths and both outcomes really happened, in a fair share of the runs.
    for (const k of ["fast", "slow", "accepted", "refused"] as const) expect(t[k]).toBeGreaterThan(300) // ≥ 10 % of the runs each
  })

  test("a plain valid reading takes the fast path; malformed ones leave it", () => {
    const ok = enc.encode(JSON.stringify({ seq: 5, ts: now, device: "bus-0001", speed_kmh: 50 }))
    expect(agree("json", ok)).toBe(true)
    for (const text of ['{"seq":5,"ts":"now"}', `{"seq":5,"ts":${now},"warp":1}`, `{"seq":5, "ts":${now}}`]) expect(agree("json", enc.encode(text))).toBe(false)
  })

  test("CSV fast path gives the general path's answer for random rows (property): wrong column counts, bad seq and ts", () => {
    const cellArb = fc.oneof(
      { weight: 8, arbitrary: fc.double({ min: -100, max: 2000, noNaN: true }).map((v) => String(Math.round(v * 100) / 100)) },
      { weight: 1, arbitrary: fc.constant("") },
      { weight: 1, arbitrary: fc.constantFrom("x", " 1", "1e999", "NaN", "0x10", "1,5") },
    )
    const seqArb = fc.oneof({ weight: 8, arbitrary: fc.nat(10).map(String) }, { weight: 1, arbitrary: fc.constantFrom("-1", "1.5", "", "x", "1e3", "9007199254740993") })
    const tsArb = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: now - 70_000, max: now + 70_000 }).map(String) },
      { weight: 1, arbitrary: fc.constantFrom("", "-1", "now", `${now}.5`, "1e20", " " + now, `${now * 1000}`, "0") },
    )
    const widthArb = fc.oneof({ weight: 6, arbitrary: fc.constant(48) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 46, 47, 49, 50) })
    const { t, note } = tallyPaths()
    // Mostly valid rows (each cell within its field's range), one fault at a time otherwise.
    const goodCells = fc.tuple(...schema.fields.map((f) => inRange(f).map(String)), inRange(schema.fields[0]!).map(String), inRange(schema.fields[1]!).map(String))
    const faults = fc.array(fc.tuple(fc.nat(49), cellArb), { maxLength: 2 })
    fc.assert(fc.property(widthArb, goodCells, faults, seqArb, tsArb, fc.constantFrom("bus-0001", "bus-0001", "", "bús-1"), (w, good, bad, seq, ts, dev) => {
      const cells = [...good]
      for (const [i, c] of bad) cells[i] = c
      const bytes = enc.encode(`${dev},${seq},${ts}${w > 0 ? "," : ""}${cells.slice(0, w).join(",")}`)
      const fast = agree("csv", bytes)
      note(fast, decodeCsvSlow(bytes, schema, newScratch(schema), now, lim) !== undefined)
    }), { numRuns: 3000 })
    for (const k of ["fast", "slow", "accepted", "refused"] as const) expect(t[k]).toBeGreaterThan(300) // ≥ 10 % of the runs each
  })

  test("CSV: a plain valid row takes the fast path; a wrong column count or a bad ts is refused as the general path refuses it", () => {
    const row = (n: number, ts: string) => enc.encode(`bus-0001,7,${ts},${Array.from({ length: n }, () => "1").join(",")}`)
    expect(agree("csv", row(48, String(now)))).toBe(true)
    for (const [n, ts] of [[47, String(now)], [49, String(now)], [48, "now"], [48, `${now}.5`], [48, String(now + 3_600_000)]] as const) {
      const b = row(n, ts)
      agree("csv", b)
      expect(decodeCsv(b, schema, newScratch(schema), now, lim)?.code).toBeDefined()
    }
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
