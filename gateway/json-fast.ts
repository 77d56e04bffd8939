/**
 * The fast path of JSON decoding for the common shape of a reading: a flat object of ASCII keys
 * without escapes or whitespace, numeric values (plus `true`/`false` for bool fields, `null`, and a
 * string `device`). It fills the scratch row straight from the bytes, without JSON.parse and
 * without an object per reading. Anything else — whitespace, escapes, unknown keys, a value it
 * would refuse — returns {@link SLOW} and the caller re-decodes with the general path, so answers
 * (and error messages) are exactly those of the general path.
 */
import type { DeviceSchema } from "../config/device-schema.ts"
import { fnv1a32Bytes } from "../runtime/shard.ts"

/** "Use the general decoder." */
export const SLOW = 1

interface KeyTable {
  /** FNV-1a of the key bytes → candidates (field index, or -1 seq, -2 ts, -3 device). */
  readonly byHash: Map<number, Array<{ readonly bytes: Uint8Array; readonly slot: number }>>
  /** Key bytes by slot + 3 (device, ts, seq, then the fields), to check the predicted next key first. */
  readonly bySlot: ReadonlyArray<Uint8Array>
}

const tables = new WeakMap<DeviceSchema, KeyTable>()
const enc = new TextEncoder()

const tableOf = (schema: DeviceSchema): KeyTable => {
  let t = tables.get(schema)
  if (t) return t
  const byHash = new Map<number, Array<{ bytes: Uint8Array; slot: number }>>()
  const add = (name: string, slot: number) => {
    const bytes = enc.encode(name)
    const h = fnv1a32Bytes(bytes)
    byHash.set(h, [...(byHash.get(h) ?? []), { bytes, slot }])
  }
  add("seq", -1)
  add("ts", -2)
  add("device", -3)
  for (const f of schema.fields) add(f.name, f.index)
  const bySlot = [enc.encode("device"), enc.encode("ts"), enc.encode("seq"), ...schema.fields.map((f) => enc.encode(f.name))]
  t = { byHash, bySlot }
  tables.set(schema, t)
  return t
}

const Q = 0x22
const COLON = 0x3a
const COMMA = 0x2c
const RBRACE = 0x7d

const slotOf = (t: KeyTable, b: Uint8Array, start: number, end: number, predicted: number): number | undefined => {
  // Devices usually send fields in schema order: try the field after the previous key first.
  const p = t.bySlot[predicted + 3]
  if (p !== undefined && p.length === end - start) {
    let k = 0
    while (k < p.length && p[k] === b[start + k]) k++
    if (k === p.length) return predicted
  }
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
  const cands = t.byHash.get(h >>> 0)
  if (!cands) return undefined
  outer: for (const c of cands) {
    if (c.bytes.length !== end - start) continue
    for (let i = 0; i < c.bytes.length; i++) if (c.bytes[i] !== b[start + i]) continue outer
    return c.slot
  }
  return undefined
}

/** Result of {@link scanJson} besides the values written into `values`. */
export const jsonHead = { seq: NaN, ts: NaN, deviceStart: -1, deviceEnd: -1 }

/**
 * Scans `b` (one JSON line without the newline) into `values` (NaN = not sent) and
 * {@link jsonHead}; returns 0 on success or {@link SLOW}.
 */
export const scanJson = (b: Uint8Array, schema: DeviceSchema, values: Float64Array): number => {
  const end = b.length
  if (end < 2 || b[end - 1] !== RBRACE) return SLOW
  const t = tableOf(schema)
  values.fill(NaN)
  jsonHead.seq = NaN
  jsonHead.ts = NaN
  jsonHead.deviceStart = -1
  let i = 1
  let prev = -4
  if (b[i] === RBRACE) return i + 1 === end ? 0 : SLOW
  for (;;) {
    if (b[i] !== Q) return SLOW
    const ks = ++i
    while (i < end && b[i] !== Q) {
      if (b[i]! === 0x5c || b[i]! >= 0x80) return SLOW
      i++
    }
    const slot = slotOf(t, b, ks, i, prev + 1)
    prev = slot ?? -4
    if (slot === undefined || b[++i] !== COLON) return SLOW
    const vs = ++i
    const c = b[vs]
    if (c === Q) {
      if (slot !== -3) return SLOW
      i++
      while (i < end && b[i] !== Q) {
        if (b[i]! === 0x5c || b[i]! < 0x20 || b[i]! >= 0x80) return SLOW
        i++
      }
      jsonHead.deviceStart = vs + 1
      jsonHead.deviceEnd = i
      i++
    } else {
      let ve: number
      let v: number
      if (c === 0x74 || c === 0x66) {
        // true / false: only for bool fields
        const isTrue = b[vs + 1] === 0x72 && b[vs + 2] === 0x75 && b[vs + 3] === 0x65
        const isFalse = b[vs + 1] === 0x61 && b[vs + 2] === 0x6c && b[vs + 3] === 0x73 && b[vs + 4] === 0x65
        if ((!isTrue && !isFalse) || slot < 0 || schema.fields[slot]!.kind !== "bool") return SLOW
        v = isTrue ? 1 : 0
        ve = vs + (isTrue ? 4 : 5)
      } else if (c === 0x6e) {
        if (b[vs + 1] !== 0x75 || b[vs + 2] !== 0x6c || b[vs + 3] !== 0x6c || slot < 0) return SLOW
        v = NaN
        ve = vs + 4
      } else {
        if (scanJsonNumber(b, vs, end) !== 0) return SLOW
        v = num.value
        ve = num.next
      }
      if (slot === -1) jsonHead.seq = v
      else if (slot === -2) jsonHead.ts = v
      else if (slot === -3) return SLOW
      else values[slot] = v
      i = ve
    }
    if (b[i] === COMMA) {
      i++
      continue
    }
    return b[i] === RBRACE && i + 1 === end ? 0 : SLOW
  }
}

/** Result of {@link scanJsonNumber}. */
const num = { value: 0, next: 0 }
const POW10 = Float64Array.from({ length: 23 }, (_, i) => 10 ** i)

/**
 * One JSON number starting at `pos` (grammar `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`), ending at
 * `,` or `}`; exact for ≤ 15 significant digits and |exponent| ≤ 22 (else SLOW, like the CSV path).
 */
const scanJsonNumber = (b: Uint8Array, pos: number, end: number): number => {
  let i = pos
  let neg = false
  if (b[i] === 0x2d) {
    neg = true
    i++
  }
  let c = b[i]
  if (c === undefined || c < 0x30 || c > 0x39) return SLOW
  if (c === 0x30 && (c = b[i + 1]) !== undefined && c >= 0x30 && c <= 0x39) return SLOW
  let mant = 0
  let digits = 0
  let scale = 0
  while (i < end && (c = b[i]!) >= 0x30 && c <= 0x39) {
    if (digits > 0 || c !== 0x30) digits++
    mant = mant * 10 + (c - 0x30)
    i++
  }
  if (b[i] === 0x2e) {
    i++
    const f0 = i
    while (i < end && (c = b[i]!) >= 0x30 && c <= 0x39) {
      if (digits > 0 || c !== 0x30) digits++
      mant = mant * 10 + (c - 0x30)
      scale--
      i++
    }
    if (i === f0) return SLOW
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++
    let eneg = false
    if (b[i] === 0x2d || b[i] === 0x2b) eneg = b[i++] === 0x2d
    let e = 0
    const e0 = i
    while (i < end && (c = b[i]!) >= 0x30 && c <= 0x39 && i - e0 < 5) {
      e = e * 10 + (c - 0x30)
      i++
    }
    if (i === e0) return SLOW
    scale += eneg ? -e : e
  }
  c = b[i]
  if ((c !== COMMA && c !== RBRACE) || digits > 15 || scale < -22 || scale > 22) return SLOW
  const v = scale < 0 ? mant / POW10[-scale]! : mant * POW10[scale]!
  num.value = neg ? -v : v
  num.next = i
  return 0
}
