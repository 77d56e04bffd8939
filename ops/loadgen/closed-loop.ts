/**
 * A closed-loop driver for benchmarks: every device keeps up to `window` unacknowledged readings
 * in flight and tops up as acks arrive, so the gateway runs at its own ceiling without the client
 * piling up memory. CSV and JSON frames are built from a per-device pre-formatted value tail (only
 * seq and ts change), which keeps the client's CPU share small on a shared 2-core machine;
 * msgpack frames are packed per reading.
 */
import { pack } from "msgpackr"
import { readFileSync } from "node:fs"
import type { DeviceSchema } from "../../config/device-schema.ts"
import { csvLine, jsonLine, msgpackFrame, type FrameFormat } from "../../gateway/encode.ts"
import { fleetIds, pkiPaths } from "../certs/pki.ts"
import { type Address, DeviceLink, latencyQuantile, newLinkStats } from "./link.ts"
import { BusSignals } from "./signals.ts"

export interface ClosedLoopResult {
  readonly readings_per_s: number
  readonly acked: number
  readonly seconds: number
  readonly ack_latency_p50_ms: number
  readonly ack_latency_p99_ms: number
}

export const runClosedLoop = async (o: {
  readonly schema: DeviceSchema
  readonly certDir: string
  readonly address: Address
  readonly devices: number
  readonly prefix: string
  readonly window: number
  readonly format?: FrameFormat
  readonly warmupMs: number
  readonly measureMs: number
  readonly progress?: (l: string) => void
}): Promise<ClosedLoopResult> => {
  const p = pkiPaths(o.certDir)
  const ca = readFileSync(p.caCert)
  const ids = fleetIds(o.devices, o.prefix)
  const stats = newLinkStats()
  const links = ids.map((id) => new DeviceLink(id, [o.address], { ca, cert: readFileSync(p.deviceCert(id)), key: readFileSync(p.deviceKey(id)) }, stats))
  const row = new Float64Array(o.schema.fields.length)
  const format = o.format ?? "csv"
  const rows = ids.map((_, i) => {
    const r = new Float64Array(row.length)
    new BusSignals(o.schema, i + 1).next(0.5, r)
    return r
  })
  const tails = ids.map((id, i) =>
    format === "json" ? jsonLine(o.schema, id, 0, 0, rows[i]!).slice(`{"device":"${id}","seq":0,"ts":0`.length)
    : csvLine(id, 0, 0, rows[i]!, row.length).slice(`${id},0,0`.length))
  // msgpack: [device, seq, ts, values] with the device and values packed once per device;
  // seq and ts are written as float64 (0xcb), which the gateway reads as the same integers.
  const packed = ids.map((id, d) => {
    const whole = msgpackFrame(id, 0, 0, rows[d]!, row.length)
    const idBytes = pack(id)
    return { idBytes, vals: whole.subarray(4 + 1 + idBytes.length + 2) }
  })
  const mpFrame = (d: number, seq: number, ts: number): Uint8Array => {
    const { idBytes, vals } = packed[d]!
    const len = 1 + idBytes.length + 18 + vals.length
    const out = new Uint8Array(4 + len)
    const dv = new DataView(out.buffer)
    dv.setUint32(0, len)
    out[4] = 0x94
    out.set(idBytes, 5)
    let o = 5 + idBytes.length
    out[o] = 0xcb
    dv.setFloat64(o + 1, seq)
    out[o + 9] = 0xcb
    dv.setFloat64(o + 10, ts)
    out.set(vals, o + 18)
    return out
  }
  const frameOf = (d: number, seq: number, ts: number): Uint8Array =>
    format === "csv" ? enc.encode(`${ids[d]},${seq},${ts}${tails[d]}`)
    : format === "json" ? enc.encode(`{"device":"${ids[d]}","seq":${seq},"ts":${ts}${tails[d]}`)
    : mpFrame(d, seq, ts)
  const enc = new TextEncoder()
  const seqs = ids.map(() => 1)
  for (const l of links) l.connect()
  const deadline = performance.now() + 30_000
  while (links.some((l) => !l.connected) && performance.now() < deadline) await Bun.sleep(20)
  let running = true
  const seqBuf: number[] = []
  const frameBuf: Uint8Array[] = []
  const pump = () => {
    if (!running) return
    const now = performance.now()
    const wall = Date.now()
    for (let d = 0; d < links.length; d++) {
      const l = links[d]!
      const n = Math.min(64, o.window - l.unacked)
      if (n <= 0) continue
      seqBuf.length = 0
      frameBuf.length = 0
      for (let k = 0; k < n; k++) {
        const seq = seqs[d]!++
        seqBuf.push(seq)
        frameBuf.push(frameOf(d, seq, wall))
      }
      l.sendMany(seqBuf, frameBuf, now)
    }
    setTimeout(pump, 1)
  }
  pump()
  await Bun.sleep(o.warmupMs)
  const a0 = stats.acked
  stats.latency.fill(0)
  const t0 = performance.now()
  const tick = setInterval(() => o.progress?.(`${Math.round((stats.acked - a0) / ((performance.now() - t0) / 1000))} readings/s`), 1000)
  await Bun.sleep(o.measureMs)
  const acked = stats.acked - a0
  const seconds = (performance.now() - t0) / 1000
  clearInterval(tick)
  running = false
  const p50 = latencyQuantile(stats.latency, 0.5)
  const p99 = latencyQuantile(stats.latency, 0.99)
  for (const l of links) l.close()
  return { readings_per_s: Math.round(acked / seconds), acked, seconds: Math.round(seconds * 10) / 10, ack_latency_p50_ms: p50, ack_latency_p99_ms: p99 }
}
