/**
 * Decodes one frame into a reading and validates it against the device schema. Pure and
 * allocation-light: the result goes into a reused {@link ReadingScratch}; the return value is
 * `undefined` when the reading is valid, or the refusal (code + reason) otherwise.
 *
 * Reading shapes (field names and order from the device schema, e.g. config/devices/bus.yaml):
 * - JSON line: `{"device":"bus-0001","seq":17,"ts":1700000000000,"speed_kmh":42.5,...}`.
 *   `device` is optional (defaults to the certificate's id); a field left out is "not sent" (NaN).
 * - CSV line: `device,seq,ts,<one column per schema field, in schema order>`; an empty column
 *   is "not sent". `device` may be empty (= the certificate's id).
 * - msgpack: the same map as JSON, or the array `[device, seq, ts, [v0, v1, ...]]` in schema order
 *   (`device` may be nil, a value may be nil = not sent).
 * `ts` is epoch milliseconds; booleans may be true/false or 1/0.
 */
import type { DeviceSchema, FieldSpec } from "../config/device-schema.ts"
import { Unpackr } from "msgpackr"
import { ErrCode } from "./codes.ts"
import { cell, CellStatus, isAscii, scanCell } from "./csv-fast.ts"
import { jsonHead, scanJson } from "./json-fast.ts"

/** The decoded reading; reused across frames. `values` has one slot per schema field. */
export interface ReadingScratch {
  device: string | undefined
  seq: number
  ts: number
  readonly values: Float64Array
}

/** Why a frame was refused. */
export interface Refusal {
  readonly code: ErrCode
  readonly reason: string
}

/** Limits applied while validating. */
export interface ValidateLimits {
  readonly maxFutureSkewMs: number
  readonly maxPastSkewMs: number
}

export const newScratch = (schema: DeviceSchema): ReadingScratch => ({
  device: undefined, seq: 0, ts: 0, values: new Float64Array(schema.fields.length),
})

const refuse = (code: ErrCode, reason: string): Refusal => ({ code, reason })
const utf8 = new TextDecoder("utf-8", { fatal: true })
const MAX_SEQ = 2 ** 53

const seqTag = (s: ReadingScratch): string => (Number.isFinite(s.seq) ? `seq=${s.seq} ` : "")

/**
 * msgpack decoding for untrusted frames: integers beyond ±2^53 (uint64/int64 `0xcf`/`0xd3`)
 * arrive as BigInt instead of a silently rounded number (and are refused below), maps become
 * plain objects, no record structures or structured-clone references are kept between frames.
 */
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "auto" as never, structuredClone: false })

/**
 * A short description of any decoded value for an `ERR` reason. Never throws (JSON.stringify
 * throws on a BigInt and may on exotic objects), never returns more than ~40 characters.
 */
export const show = (v: unknown): string => {
  switch (typeof v) {
    case "undefined":
      return "nothing"
    case "bigint":
      return `${v.toString().slice(0, 40)} (beyond ±2^53)`
    case "number":
    case "boolean":
      return String(v)
    case "string":
      return `"${v.slice(0, 38).replace(/[\x00-\x1f"\\]/g, "?")}"`
    case "object":
      return v === null ? "null" : Array.isArray(v) ? "an array" : v instanceof Uint8Array ? "binary" : v instanceof Date ? "a date" : "an object"
    default:
      return typeof v
  }
}

/** Checks one field value; writes it into the scratch. */
const checkField = (f: FieldSpec, v: unknown, s: ReadingScratch): Refusal | undefined => {
  if (v === null || v === undefined) {
    s.values[f.index] = NaN
    return undefined
  }
  let n: number
  if (typeof v === "number") n = v
  else if (typeof v === "boolean" && f.kind === "bool") n = v ? 1 : 0
  else return refuse(ErrCode.badValue, `${seqTag(s)}${f.name}: expected a number, got ${show(v)}`)
  if (!Number.isFinite(n)) return refuse(ErrCode.badValue, `${seqTag(s)}${f.name}: ${n} is not a finite number`)
  if ((f.kind === "int" && !Number.isInteger(n)) || (f.kind === "bool" && n !== 0 && n !== 1)) return refuse(ErrCode.badValue, `${seqTag(s)}${f.name}: ${n} is not ${f.kind === "bool" ? "0/1" : "an integer"}`)
  if (n < f.min || n > f.max) return refuse(ErrCode.outOfRange, `${seqTag(s)}${f.name}: ${n} ${f.unit} outside [${f.min}, ${f.max}]`)
  s.values[f.index] = n
  return undefined
}

const checkHeader = (s: ReadingScratch, seq: unknown, ts: unknown, now: number, lim: ValidateLimits): Refusal | undefined => {
  if (typeof seq !== "number" || !Number.isInteger(seq) || seq < 0 || seq >= MAX_SEQ) {
    s.seq = NaN
    return refuse(ErrCode.badSeq, `seq must be an integer in [0, 2^53), got ${show(seq)}`)
  }
  s.seq = seq
  if (typeof ts !== "number" || !Number.isFinite(ts)) return refuse(ErrCode.badTs, `seq=${seq} ts must be epoch milliseconds, got ${show(ts)}`)
  if (ts > now + lim.maxFutureSkewMs) return refuse(ErrCode.tsSkew, `seq=${seq} ts ${ts} is ${Math.round(ts - now)} ms in the future (max ${lim.maxFutureSkewMs})`)
  if (ts < now - lim.maxPastSkewMs) return refuse(ErrCode.tsSkew, `seq=${seq} ts ${ts} is ${Math.round(now - ts)} ms in the past (max ${lim.maxPastSkewMs})`)
  s.ts = ts
  return undefined
}

const checkDevice = (s: ReadingScratch, d: unknown): Refusal | undefined => {
  if (d === undefined || d === null || d === "") s.device = undefined
  else if (typeof d === "string") s.device = d
  else return refuse(ErrCode.badValue, `device must be a string`)
  return undefined
}

/** Validates a reading given as an object (JSON or msgpack map). */
const fromObject = (o: Record<string, unknown>, schema: DeviceSchema, s: ReadingScratch, now: number, lim: ValidateLimits): Refusal | undefined => {
  const r = checkHeader(s, o.seq, o.ts, now, lim) ?? checkDevice(s, o.device)
  if (r) return r
  s.values.fill(NaN)
  for (const key in o) {
    if (key === "seq" || key === "ts" || key === "device") continue
    const f = schema.byName.get(key)
    if (!f) return refuse(ErrCode.unknownField, `seq=${s.seq} unknown field "${key.slice(0, 64)}" for device type ${schema.type}`)
    const bad = checkField(f, o[key], s)
    if (bad) return bad
  }
  return undefined
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)

/**
 * JSON line → reading. The common flat shape takes the byte-scanning fast path; anything unusual
 * (and every refusal, for its exact message) goes through JSON.parse below.
 */
export const decodeJson = (bytes: Uint8Array, schema: DeviceSchema, s: ReadingScratch, now: number, lim: ValidateLimits): Refusal | undefined => {
  if (scanJson(bytes, schema, s.values) !== 0) return decodeJsonSlow(bytes, schema, s, now, lim)
  const seq = jsonHead.seq
  const ts = jsonHead.ts
  if (checkHeader(s, Number.isNaN(seq) ? undefined : seq, Number.isNaN(ts) ? undefined : ts, now, lim)) return decodeJsonSlow(bytes, schema, s, now, lim)
  const fields = schema.fields
  for (let i = 0; i < fields.length; i++) {
    const v = s.values[i]!
    if (v === v && checkField(fields[i]!, v, s)) return decodeJsonSlow(bytes, schema, s, now, lim)
  }
  s.device = jsonHead.deviceStart < 0 || jsonHead.deviceEnd === jsonHead.deviceStart ? undefined : idOf(bytes, jsonHead.deviceStart, jsonHead.deviceEnd)
  return undefined
}

/** Lines that went through the general paths (the rest took the fast ones): tests check both paths are exercised. */
export const slowPathLines = { json: 0, csv: 0 }

/** The general JSON path (JSON.parse); exported for tests comparing it with the fast path. */
export const decodeJsonSlow = (bytes: Uint8Array, schema: DeviceSchema, s: ReadingScratch, now: number, lim: ValidateLimits): Refusal | undefined => {
  slowPathLines.json++
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return refuse(ErrCode.badUtf8, "line is not valid UTF-8")
  }
  let o: unknown
  try {
    o = JSON.parse(text)
  } catch (e) {
    return refuse(ErrCode.badJson, `${(e as Error).message.slice(0, 80)}`)
  }
  if (!isPlainObject(o)) return refuse(ErrCode.badJson, "a reading must be a JSON object")
  return fromObject(o, schema, s, now, lim)
}

const parseCsvNumber = (text: string): number | undefined => {
  if (text === "") return undefined
  const t = text.trim()
  // Number("") is 0 and Number("0x1f") is 31: accept only plain decimal / exponent notation.
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return NaN
  return Number(t)
}

const COMMA = 0x2c
const countCommas = (b: Uint8Array): number => {
  let n = 0
  for (let i = 0; i < b.length; i++) if (b[i] === COMMA) n++
  return n
}
let lastIdBytes: Uint8Array = new Uint8Array(0)
let lastId = ""

/** The device id cell as a string; the previous one is reused when the bytes are the same. */
const idOf = (b: Uint8Array, start: number, end: number): string => {
  const n = end - start
  if (n === lastIdBytes.length) {
    let same = true
    for (let i = 0; i < n; i++) if (b[start + i] !== lastIdBytes[i]) { same = false; break }
    if (same) return lastId
  }
  lastIdBytes = b.slice(start, end)
  lastId = String.fromCharCode(...lastIdBytes)
  return lastId
}

/** True when a refusal found on the fast path is the general path's too: the line is ASCII and has the schema's column count. */
const csvShapeOk = (bytes: Uint8Array, schema: DeviceSchema): boolean => isAscii(bytes) && countCommas(bytes) === 2 + schema.fields.length

/**
 * CSV line (`device,seq,ts,<fields in schema order>`) → reading. ASCII lines of plain decimal
 * numbers take the byte-scanning fast path; anything else the general path below. The fast path
 * needs no pass over the line before it: a line it reads to the end is ASCII (the id is checked,
 * number cells take digits, signs, `.` and exponents only) with exactly the schema's columns (each
 * cell consumed, the last one at the line's end). Only before refusing does it check the line's
 * shape, so that a refusal is the general path's (which refuses a wrong column count or bad UTF-8
 * first).
 */
export const decodeCsv = (bytes: Uint8Array, schema: DeviceSchema, s: ReadingScratch, now: number, lim: ValidateLimits): Refusal | undefined => {
  const end = bytes.length
  const idEnd = bytes.indexOf(COMMA)
  if (idEnd < 0) return decodeCsvSlow(bytes, schema, s, now, lim)
  for (let i = 0; i < idEnd; i++) if (bytes[i]! >= 0x80) return decodeCsvSlow(bytes, schema, s, now, lim)
  if (scanCell(bytes, idEnd + 1, end) !== CellStatus.ok) return decodeCsvSlow(bytes, schema, s, now, lim)
  const seq = cell.value
  if (scanCell(bytes, cell.next, end) !== CellStatus.ok) return decodeCsvSlow(bytes, schema, s, now, lim)
  const r = checkHeader(s, seq, cell.value, now, lim)
  if (r) return csvShapeOk(bytes, schema) ? r : decodeCsvSlow(bytes, schema, s, now, lim)
  s.device = idEnd === 0 ? undefined : idOf(bytes, 0, idEnd)
  const fields = schema.fields
  let pos = cell.next
  for (let i = 0; i < fields.length; i++) {
    if (pos > end) return decodeCsvSlow(bytes, schema, s, now, lim)
    const st = scanCell(bytes, pos, end)
    if (st === CellStatus.slow) return decodeCsvSlow(bytes, schema, s, now, lim)
    const bad = checkField(fields[i]!, st === CellStatus.empty ? undefined : cell.value, s)
    if (bad) return csvShapeOk(bytes, schema) ? bad : decodeCsvSlow(bytes, schema, s, now, lim)
    pos = cell.next
  }
  if (pos <= end) return decodeCsvSlow(bytes, schema, s, now, lim)
  return undefined
}

/** The general CSV path: any text, trimmed cells, precise messages. */
export const decodeCsvSlow = (bytes: Uint8Array, schema: DeviceSchema, s: ReadingScratch, now: number, lim: ValidateLimits): Refusal | undefined => {
  slowPathLines.csv++
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return refuse(ErrCode.badUtf8, "line is not valid UTF-8")
  }
  const cells = text.split(",")
  const want = 3 + schema.fields.length
  if (cells.length !== want) return refuse(ErrCode.badCsv, `expected ${want} columns (device,seq,ts + ${schema.fields.length} fields in schema order), got ${cells.length}`)
  const seq = parseCsvNumber(cells[1]!)
  const ts = parseCsvNumber(cells[2]!)
  const r = checkHeader(s, seq, ts, now, lim) ?? checkDevice(s, cells[0]!.trim())
  if (r) return r
  const fields = schema.fields
  for (let i = 0; i < fields.length; i++) {
    const cell = cells[3 + i]!
    const v = parseCsvNumber(cell)
    if (Number.isNaN(v)) {
      const t = cell.trim()
      return refuse(ErrCode.badValue, `seq=${s.seq} ${fields[i]!.name}: "${t.slice(0, 40)}" is not a finite number`)
    }
    const bad = checkField(fields[i]!, v, s)
    if (bad) return bad
  }
  return undefined
}

/** msgpack frame (map like JSON, or `[device, seq, ts, values[]]`) → reading. */
export const decodeMsgpack = (bytes: Uint8Array, schema: DeviceSchema, s: ReadingScratch, now: number, lim: ValidateLimits): Refusal | undefined => {
  let o: unknown
  try {
    o = unpackr.unpack(bytes)
  } catch (e) {
    return refuse(ErrCode.badMsgpack, `${(e as Error).message.slice(0, 80)}`)
  }
  if (o instanceof Map) o = Object.fromEntries(o)
  if (isPlainObject(o)) return fromObject(o, schema, s, now, lim)
  if (!Array.isArray(o) || o.length !== 4 || !Array.isArray(o[3])) {
    return refuse(ErrCode.badMsgpack, "a msgpack reading is a map or [device, seq, ts, [values...]]")
  }
  const r = checkHeader(s, o[1], o[2], now, lim) ?? checkDevice(s, o[0])
  if (r) return r
  const vals = o[3] as unknown[]
  if (vals.length !== schema.fields.length) return refuse(ErrCode.badMsgpack, `seq=${s.seq} expected ${schema.fields.length} values in schema order, got ${vals.length}`)
  for (let i = 0; i < vals.length; i++) {
    const bad = checkField(schema.fields[i]!, vals[i], s)
    if (bad) return bad
  }
  return undefined
}
