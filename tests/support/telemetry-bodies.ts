/**
 * Reads `telemetry` insert bodies back into rows, for tests that compare what the sink sent in
 * TabSeparated and in RowBinary: `[device_id, seq, ts seconds, ms, ingested seconds, ...fields]`.
 */
export type TelemetryRow = [string, number, number, number, number, ...number[]]

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
