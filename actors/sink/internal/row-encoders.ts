import { RowBinaryWriter, rowBinaryString } from "../row-binary.ts"
import type { InsertFormat } from "../store.ts"
import { escapeTsv, TsvWriter } from "../tsv.ts"
import type { RowColumns } from "./columns.ts"

/**
 * Turns a shard's queued rows into one `telemetry` insert body (columns in `telemetryColumns`
 * order) and empties the buffer. Which rows get here, and with which values, is decided once in
 * {@link RowColumns.push} and the sink's `add`; an encoder only writes bytes.
 */
export interface RowEncoder {
  readonly format: InsertFormat
  encode(rows: RowColumns, ingestedSec: number): EncodedRows
  /**
   * Rewrites every row's `ingested` in `e.body`, in place: each insert attempt stamps its own
   * time, so a body retried through a long ClickHouse outage lands with a recent `ingested` and the
   * rollup's look-back (rollup.ts) only has to cover one attempt, not the outage.
   */
  restamp(e: EncodedRows, ingestedSec: number): void
}

/** An insert body and where each row's `ingested` value sits in it. */
export interface EncodedRows {
  readonly body: Uint8Array
  /** Byte offset of every row's `ingested` value in `body`, in row order. */
  readonly stamps: Uint32Array
}

/** Per-id bytes, cached (ids repeat in every batch); the cache is dropped whole when it passes `limit`. */
const cachedIdBytes = (encode: (id: string) => Uint8Array, limit = 100_000): ((id: string) => Uint8Array) => {
  const cache = new Map<string, Uint8Array>()
  return (id) => {
    let b = cache.get(id)
    if (b === undefined) {
      if (cache.size > limit) cache.clear()
      b = encode(id)
      cache.set(id, b)
    }
    return b
  }
}

const utf8 = new TextEncoder()

/** Re-stamps binary bodies (RowBinary, Native): each `ingested` is a little-endian UInt32 at its offset. */
const restampUInt32 = ({ body, stamps }: EncodedRows, ingestedSec: number): void => {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  for (let i = 0; i < stamps.length; i++) view.setUint32(stamps[i]!, ingestedSec, true)
}

/** TabSeparated text: numbers written as decimal text, ids escaped. Every store reads it. */
export const tsvEncoder = (): RowEncoder => {
  const w = new TsvWriter(1 << 20)
  const idBytes = cachedIdBytes((id) => utf8.encode(escapeTsv(id)))
  return {
    format: "TabSeparated",
    encode(rows, ingestedSec) {
      const { ids, seqs, ts, values, width } = rows
      const stamps = new Uint32Array(rows.n)
      for (let i = 0; i < rows.n; i++) {
        const t = ts[i]!
        const sec = Math.floor(t / 1000)
        w.bytes(idBytes(ids[i]!))
        w.byte(9)
        w.uint(seqs[i]!)
        w.byte(9)
        w.uint(sec)
        w.byte(9)
        w.uint(Math.floor(t - sec * 1000))
        w.byte(9)
        stamps[i] = w.length
        w.uint(ingestedSec)
        const base = i * width
        for (let f = 0; f < width; f++) {
          w.byte(9)
          w.float(values[base + f]!)
        }
        w.byte(10)
      }
      rows.clear()
      return { body: w.take(), stamps }
    },
    restamp({ body, stamps }, ingestedSec) {
      // Decimal text in place: only a value of the same digit count fits, which every epoch second
      // from 2001 to 2286 has; another (a test clock near 0) leaves the first stamp.
      const text = String(Math.floor(ingestedSec))
      for (let i = 0; i < stamps.length; i++) {
        const at = stamps[i]!
        const end = body.indexOf(9, at)
        if (end - at !== text.length) return
        for (let k = 0; k < text.length; k++) body[at + k] = text.charCodeAt(k)
      }
    },
  }
}

/**
 * RowBinary: String id (varint length + UTF-8), UInt64 seq, DateTime ts (UInt32 s), UInt16 ms,
 * DateTime ingested, then the row's Float64 fields copied as bytes. For stores with `binaryInsert`.
 */
export const rowBinaryEncoder = (): RowEncoder => {
  const w = new RowBinaryWriter(1 << 20)
  const idBytes = cachedIdBytes((id) => rowBinaryString(utf8.encode(id)))
  return {
    format: "RowBinary",
    encode(rows, ingestedSec) {
      const { ids, seqs, ts, values, width, n } = rows
      w.reserve(n * (18 + 8 * width + 16))
      const stamps = new Uint32Array(n)
      for (let i = 0; i < n; i++) {
        const t = ts[i]!
        const sec = Math.floor(t / 1000)
        w.bytes(idBytes(ids[i]!))
        w.u64(seqs[i]!)
        w.u32(sec)
        w.u16(Math.floor(t - sec * 1000))
        stamps[i] = w.length
        w.u32(ingestedSec)
        w.f64s(values, i * width, width)
      }
      rows.clear()
      return { body: w.take(), stamps }
    },
    restamp: restampUInt32,
  }
}

/** Rows per block of the Native encoder's transpose: 64 rows of 48 fields are 24 KB. */
const transposeRows = 64

/** A column's name and ClickHouse type in a Native block header: two RowBinary strings. */
const nativeHeader = (name: string, type: string): Uint8Array => {
  const [a, b] = [rowBinaryString(utf8.encode(name)), rowBinaryString(utf8.encode(type))]
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/**
 * Native (https://clickhouse.com/docs/interfaces/formats/Native): one block, column by column;
 * `telemetryColumns` order with the types of the `telemetry` table (actors/sink/tables.ts), each
 * Float64 field one run of 8-byte values. ClickHouse reads a column as one copy where RowBinary
 * makes it parse every value of every row. `fields` are the schema's field names.
 */
export const nativeEncoder = (fields: ReadonlyArray<string>): RowEncoder => {
  const w = new RowBinaryWriter(1 << 20)
  const idBytes = cachedIdBytes((id) => rowBinaryString(utf8.encode(id)))
  const key = [["device_id", "String"], ["seq", "UInt64"], ["ts", "DateTime('UTC')"], ["ms", "UInt16"], ["ingested", "DateTime('UTC')"]] as const
  const [idH, seqH, tsH, msH, ingestedH] = key.map(([c, t]) => nativeHeader(c, t)) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array]
  const fieldH = fields.map((f) => nativeHeader(f, "Float64"))
  /** The fields column by column (field f at f * n), filled by a blocked transpose; kept between encodes. */
  let columns = new Float64Array(0)
  return {
    format: "Native",
    encode(rows, ingestedSec) {
      const { ids, seqs, ts, values, width, n } = rows
      if (columns.length < n * width) columns = new Float64Array(n * width)
      w.reserve(64 + n * (18 + 8 * width + 16) + fieldH.reduce((a, h) => a + h.length, 0))
      w.varUInt(key.length + width)
      w.varUInt(n)
      w.bytes(idH)
      for (let i = 0; i < n; i++) w.bytes(idBytes(ids[i]!))
      w.bytes(seqH)
      for (let i = 0; i < n; i++) w.u64(seqs[i]!)
      w.bytes(tsH)
      for (let i = 0; i < n; i++) w.u32(Math.floor(ts[i]! / 1000))
      w.bytes(msH)
      for (let i = 0; i < n; i++) w.u16(ts[i]! - Math.floor(ts[i]! / 1000) * 1000)
      w.bytes(ingestedH)
      const stamps = new Uint32Array(n)
      for (let i = 0; i < n; i++) {
        stamps[i] = w.length
        w.u32(ingestedSec)
      }
      // Transposed in blocks of rows that stay in the CPU's cache: a whole pass over the rows per
      // field read every row's cache lines once per field (48 times) from memory.
      for (let r0 = 0; r0 < n; r0 += transposeRows) {
        const r1 = Math.min(n, r0 + transposeRows)
        for (let f = 0; f < width; f++) {
          for (let i = r0, j = r0 * width + f, o = f * n + r0; i < r1; i++, j += width, o++) columns[o] = values[j]!
        }
      }
      for (let f = 0; f < width; f++) {
        w.bytes(fieldH[f]!)
        w.f64s(columns, f * n, n)
      }
      rows.clear()
      return { body: w.take(), stamps }
    },
    restamp: restampUInt32,
  }
}
