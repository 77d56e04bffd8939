import { describe, expect, test } from "bun:test"
import { pack } from "msgpackr"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { ErrCode } from "./codes.ts"
import { decodeCsv, decodeJson, decodeMsgpack, newScratch } from "./decode.ts"
import { csvLine, jsonLine } from "./encode.ts"

const schema = loadDeviceSchema()
const W = schema.fields.length
const now = 1_700_000_000_000
const lim = { maxFutureSkewMs: 300_000, maxPastSkewMs: 86_400_000 }
const enc = new TextEncoder()
/** A valid row: every field at its minimum. */
const row = () => Float64Array.from(schema.fields, (f) => f.min)
const s = newScratch(schema)
const json = (o: unknown) => decodeJson(enc.encode(JSON.stringify(o)), schema, s, now, lim)
const csv = (line: string) => decodeCsv(enc.encode(line), schema, s, now, lim)
const mp = (o: unknown) => decodeMsgpack(pack(o), schema, s, now, lim)

describe("decode", () => {
  test("the bus schema has 48 fields", () => expect(W).toBe(48))

  test("a JSON line round-trips into the scratch in schema order", () => {
    const r = row()
    r[0] = 42.5
    expect(decodeJson(enc.encode(jsonLine(schema, "bus-1", 7, now, r)), schema, s, now, lim)).toBeUndefined()
    expect([s.device, s.seq, s.ts]).toEqual(["bus-1", 7, now])
    expect(Array.from(s.values)).toEqual(Array.from(r))
  })

  test("fields left out of a JSON reading are NaN (not sent); device is optional", () => {
    expect(json({ seq: 1, ts: now, speed_kmh: 10 })).toBeUndefined()
    expect(s.device).toBeUndefined()
    expect(s.values[0]).toBe(10)
    expect(Number.isNaN(s.values[1]!)).toBe(true)
  })

  test("a CSV line round-trips; empty cells are not sent", () => {
    const r = row()
    r[3] = NaN
    expect(csv(csvLine("bus-1", 9, now, r, W).trimEnd())).toBeUndefined()
    expect(s.seq).toBe(9)
    expect(Number.isNaN(s.values[3]!)).toBe(true)
    expect(s.values[4]).toBe(r[4]!)
  })

  test("msgpack accepts the array form and the map form", () => {
    expect(mp(["bus-1", 3, now, Array.from(row())])).toBeUndefined()
    expect(s.seq).toBe(3)
    expect(mp({ device: "bus-1", seq: 4, ts: now, gear: 2 })).toBeUndefined()
    expect(s.values[schema.byName.get("gear")!.index]).toBe(2)
  })

  test.each([
    ["not JSON", () => decodeJson(enc.encode("{oops"), schema, s, now, lim), ErrCode.badJson],
    ["JSON array", () => json([1, 2]), ErrCode.badJson],
    ["NaN literal in JSON", () => decodeJson(enc.encode(`{"seq":1,"ts":${now},"speed_kmh":NaN}`), schema, s, now, lim), ErrCode.badJson],
    ["Infinity in JSON", () => decodeJson(enc.encode(`{"seq":1,"ts":${now},"speed_kmh":Infinity}`), schema, s, now, lim), ErrCode.badJson],
    ["invalid UTF-8", () => decodeJson(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), schema, s, now, lim), ErrCode.badUtf8],
    ["invalid UTF-8 in CSV", () => decodeCsv(new Uint8Array([0x62, 0xc3, 0x28]), schema, s, now, lim), ErrCode.badUtf8],
    ["missing seq", () => json({ ts: now }), ErrCode.badSeq],
    ["negative seq", () => json({ seq: -1, ts: now }), ErrCode.badSeq],
    ["fractional seq", () => json({ seq: 1.5, ts: now }), ErrCode.badSeq],
    ["seq beyond 2^53", () => json({ seq: 2 ** 53, ts: now }), ErrCode.badSeq],
    ["ts as text", () => json({ seq: 1, ts: "yesterday" }), ErrCode.badTs],
    ["ts far in the future", () => json({ seq: 1, ts: now + 301_000 }), ErrCode.tsSkew],
    ["ts far in the past", () => json({ seq: 1, ts: now - 86_400_001 }), ErrCode.tsSkew],
    ["unknown field", () => json({ seq: 1, ts: now, warp_factor: 9 }), ErrCode.unknownField],
    ["text value", () => json({ seq: 1, ts: now, speed_kmh: "fast" }), ErrCode.badValue],
    ["fraction in an int field", () => json({ seq: 1, ts: now, gear: 2.5 }), ErrCode.badValue],
    ["2 in a bool field", () => json({ seq: 1, ts: now, door_front_open: 2 }), ErrCode.badValue],
    ["above max", () => json({ seq: 1, ts: now, speed_kmh: 161 }), ErrCode.outOfRange],
    ["below min", () => json({ seq: 1, ts: now, coolant_temp_c: -41 }), ErrCode.outOfRange],
    ["CSV with too few columns", () => csv("bus-1,1,2"), ErrCode.badCsv],
    ["CSV NaN", () => csv(`bus-1,1,${now},NaN${",0".repeat(W - 1)}`), ErrCode.badValue],
    ["CSV Infinity", () => csv(`bus-1,1,${now},Infinity${",0".repeat(W - 1)}`), ErrCode.badValue],
    ["CSV hex", () => csv(`bus-1,1,${now},0x10${",0".repeat(W - 1)}`), ErrCode.badValue],
    ["CSV bad seq", () => csv(`bus-1,x,${now}${",0".repeat(W)}`), ErrCode.badSeq],
    ["msgpack garbage", () => decodeMsgpack(new Uint8Array([0x94, 0x01]), schema, s, now, lim), ErrCode.badMsgpack],
    ["msgpack NaN", () => mp(["bus-1", 1, now, [NaN, ...Array(W - 1).fill(0)]]), ErrCode.badValue],
    ["msgpack Infinity", () => mp(["bus-1", 1, now, [Infinity, ...Array(W - 1).fill(0)]]), ErrCode.badValue],
    ["msgpack short row", () => mp(["bus-1", 1, now, [1, 2]]), ErrCode.badMsgpack],
  ] as const)("refuses %s", (_, run, code) => {
    expect(run()?.code).toBe(code)
  })

  test("a refusal names the reading's seq and the field", () => {
    expect(json({ seq: 12, ts: now, speed_kmh: 500 })?.reason).toBe("seq=12 speed_kmh: 500 km/h outside [0, 160]")
  })
})
