/**
 * The device side of the frame formats (see decode.ts): builds JSON lines, CSV lines and framed
 * msgpack readings from a value row in schema order. Used by the fleet simulator, tests and
 * benchmarks; a NaN value is "not sent".
 */
import type { DeviceSchema } from "../config/device-schema.ts"
import { pack } from "msgpackr"
import { frameMsgpack } from "./framer.ts"

export type FrameFormat = "json" | "csv" | "msgpack"

/** `{"device":..,"seq":..,"ts":..,"<field>":v,...}\n` */
export const jsonLine = (schema: DeviceSchema, device: string, seq: number, ts: number, row: ArrayLike<number>): string => {
  let s = `{"device":"${device}","seq":${seq},"ts":${ts}`
  for (let i = 0; i < schema.fields.length; i++) {
    const v = row[i]!
    if (!Number.isNaN(v)) s += `,"${schema.fields[i]!.name}":${v}`
  }
  return `${s}}\n`
}

/** `device,seq,ts,v0,...,v47\n` */
export const csvLine = (device: string, seq: number, ts: number, row: ArrayLike<number>, width: number): string => {
  let s = `${device},${seq},${ts}`
  for (let i = 0; i < width; i++) {
    const v = row[i]!
    s += Number.isNaN(v) ? "," : `,${v}`
  }
  return `${s}\n`
}

/** Length-prefixed msgpack `[device, seq, ts, [v0..v47]]` (NaN → nil). */
export const msgpackFrame = (device: string, seq: number, ts: number, row: ArrayLike<number>, width: number): Uint8Array => {
  const vals: Array<number | null> = new Array(width)
  for (let i = 0; i < width; i++) vals[i] = Number.isNaN(row[i]!) ? null : row[i]!
  return frameMsgpack(pack([device, seq, ts, vals]))
}

const enc = new TextEncoder()

/** One reading in `format`, as bytes ready to write. */
export const encodeReading = (format: FrameFormat, schema: DeviceSchema, device: string, seq: number, ts: number, row: ArrayLike<number>): Uint8Array =>
  format === "json" ? enc.encode(jsonLine(schema, device, seq, ts, row))
  : format === "csv" ? enc.encode(csvLine(device, seq, ts, row, schema.fields.length))
  : msgpackFrame(device, seq, ts, row, schema.fields.length)
