/**
 * Reads `telemetry` insert bodies back into rows, for tests that compare what the sink sent in
 * TabSeparated, RowBinary and Native: `[device_id, seq, ts seconds, ms, ingested seconds, ...fields]`.
 */
export type TelemetryRow = [string, number, number, number, number, ...number[]]

/** An unsigned LEB128 varint at `at`: its value and the position after it. */
const varUInt = (body: Uint8Array, at: number): [number, number] => {
  let n = 0
  for (let shift = 0; ; shift += 7) {
    const b = body[at++]!
    n += (b & 0x7f) * 2 ** shift
    if (b < 0x80) return [n, at]
  }
}

/**
 * Decodes a Native body (blocks back to back, as several segments make one insert) of the
 * telemetry columns with `width` Float64 fields; checks each column's type on the way.
 */
export const readNative = (body: Uint8Array, width: number): TelemetryRow[] => {
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const text = new TextDecoder("utf-8", { fatal: true })
  const rows: TelemetryRow[] = []
  let p = 0
  const str = (): string => {
    const [len, at] = varUInt(body, p)
    p = at + len
    return text.decode(body.subarray(at, p))
  }
  const want = ["String", "UInt64", "DateTime('UTC')", "UInt16", "DateTime('UTC')", ...Array<string>(width).fill("Float64")]
  while (p < body.length) {
    const [cols, a] = varUInt(body, p)
    const [n, b] = varUInt(body, a)
    p = b
    if (cols !== 5 + width) throw new RangeError(`Native block of ${cols} columns, expected ${5 + width}`)
    const block = Array.from({ length: n }, () => [] as unknown as TelemetryRow)
    for (let c = 0; c < cols; c++) {
      str() // name
      const type = str()
      if (type !== want[c]) throw new RangeError(`Native column ${c} is ${type}, expected ${want[c]}`)
      for (let i = 0; i < n; i++) {
        const row = block[i]! as unknown as Array<string | number>
        if (c === 0) row.push(str())
        else if (c === 1) { row.push(v.getUint32(p, true) + v.getUint32(p + 4, true) * 4294967296); p += 8 }
        else if (c === 3) { row.push(v.getUint16(p, true)); p += 2 }
        else if (c === 2 || c === 4) { row.push(v.getUint32(p, true)); p += 4 }
        else { row.push(v.getFloat64(p, true)); p += 8 }
      }
    }
    rows.push(...block)
  }
  if (p !== body.length) throw new RangeError(`Native body overran by ${p - body.length} bytes`)
  return rows
}

/** Decodes a RowBinary body of rows with `width` Float64 fields. */
export const readRowBinary = (body: Uint8Array, width: number): TelemetryRow[] => {
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const text = new TextDecoder("utf-8", { fatal: true })
  const rows: TelemetryRow[] = []
  let p = 0
  while (p < body.length) {
    let len = 0
    for (let shift = 0; ; shift += 7) {
      const b = body[p++]!
      len += (b & 0x7f) * 2 ** shift
      if (b < 0x80) break
    }
    const id = text.decode(body.subarray(p, p + len))
    p += len
    const seq = v.getUint32(p, true) + v.getUint32(p + 4, true) * 4294967296
    const row: TelemetryRow = [id, seq, v.getUint32(p + 8, true), v.getUint16(p + 12, true), v.getUint32(p + 14, true)]
    p += 18
    for (let f = 0; f < width; f++, p += 8) row.push(v.getFloat64(p, true))
    rows.push(row)
  }
  if (p !== body.length) throw new RangeError(`RowBinary body overran by ${p - body.length} bytes`)
  return rows
}

const unescape = (s: string): string => s.replace(/\\(.)/g, (_, c: string) => (c === "t" ? "\t" : c === "n" ? "\n" : c === "r" ? "\r" : c))
const float = (s: string): number => (s === "nan" ? NaN : s === "inf" ? Infinity : s === "-inf" ? -Infinity : Number(s))

/** Decodes a TabSeparated body (as the sink writes it: nan / inf / -inf for the special values). */
export const readTsv = (body: Uint8Array | string): TelemetryRow[] =>
  (typeof body === "string" ? body : new TextDecoder().decode(body)).split("\n").filter((l) => l.length > 0).map((line) => {
    const [id, seq, sec, ms, ingested, ...fields] = line.split("\t")
    return [unescape(id!), Number(seq), Number(sec), Number(ms), Number(ingested), ...fields.map(float)]
  })
