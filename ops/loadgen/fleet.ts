/**
 * The fleet simulator: N devices (one mTLS connection each, all in this process) sending R
 * readings/s of {@link BusSignals} with scenario anomalies, through {@link DeviceLink}s that
 * resend what was not acknowledged and fail over between gateway addresses. Progress goes to
 * `progress` once a second; the result has sent / acked / resent / rejected and ack latency.
 */
import { readFileSync } from "node:fs"
import type { DeviceSchema } from "../../config/device-schema.ts"
import { encodeReading } from "../../gateway/encode.ts"
import { pkiPaths, fleetIds } from "../certs/pki.ts"
import { type Address, DeviceLink, latencyQuantile, newLinkStats, type LinkStats } from "./link.ts"
import { nextReading, type Scenario } from "./scenario.ts"
import { BusSignals } from "./signals.ts"

export interface FleetOptions {
  readonly scenario: Scenario
  readonly schema: DeviceSchema
  readonly addresses: ReadonlyArray<Address>
  readonly certDir: string
  /**
   * Recompute a device's signals every `refresh` readings (default 1: every reading); in between
   * only seq and ts change and the encoded values are re-used. Load tests use it so the simulator
   * does not take the CPU the pipeline needs. CSV only.
   */
  readonly refresh?: number
  /** How long to wait for the last acks after the run, ms. */
  readonly graceMs?: number
  readonly progress?: (line: string) => void
  readonly log?: (line: string) => void
  /** Checked each tick; return true to stop early. */
  readonly shouldStop?: () => boolean
  /** Spread devices over the addresses (default); false: every device starts on the first. */
  readonly spread?: boolean
  /** First seq of every device (a re-run after a previous one continues numbering). */
  readonly firstSeq?: number
  /** Report each device's sent and acknowledged seq range in the result. */
  readonly ranges?: boolean
}

export interface FleetResult {
  /** Wall-clock ms when sending started. */
  readonly started_at: number
  /** CPU seconds this process used during the run (the simulator's own cost). */
  readonly cpu_s: number
  readonly devices: number
  readonly seconds: number
  readonly sent: number
  readonly acked: number
  readonly resent: number
  readonly rejected: number
  readonly unacked: number
  readonly reconnects: number
  readonly errors_by_code: Record<string, number>
  readonly readings_per_s: number
  readonly ack_latency_p50_ms: number
  readonly ack_latency_p99_ms: number
  /**
   * Per device: seqs `first..sent_to` sent, `first..acked_to` acknowledged except `rejected`
   * (only with `ranges: true`; checks compare these sets with what was stored).
   */
  readonly ranges?: ReadonlyArray<{ device: string; first: number; sent_to: number; acked_to: number; rejected: number[] }>
}

export interface Fleet {
  readonly stats: LinkStats
  readonly links: ReadonlyArray<DeviceLink>
  /** Resolves when the scenario ended and the last acks arrived (or the grace period ran out). */
  readonly done: Promise<FleetResult>
  /** Stops sending now. */
  stop(): void
}

const TICK_MS = 10

export const runFleet = (o: FleetOptions): Fleet => {
  const sc = o.scenario
  const stats = newLinkStats()
  const p = pkiPaths(o.certDir)
  const ca = readFileSync(p.caCert)
  const ids = fleetIds(sc.devices, sc.prefix)
  const links = ids.map((id, i) => new DeviceLink(id, o.addresses, { ca, cert: readFileSync(p.deviceCert(id)), key: readFileSync(p.deviceKey(id)) }, stats, o.log, o.spread === false ? 0 : i))
  const width = o.schema.fields.length
  const signals = ids.map((_, i) => new BusSignals(o.schema, i + 1))
  const anomalies = ids.map((id) => sc.anomalies.filter((a) => a.device === id))
  const row = new Float64Array(width)
  const tails: string[] = ids.map(() => "")
  const nextSeq = ids.map(() => o.firstSeq ?? 1)
  const interval = 1000 / sc.rate
  const t0 = performance.now()
  const wall0 = Date.now()
  const cpu0 = process.cpuUsage()
  // Devices start evenly spread over one interval so the load is smooth.
  const nextDue = ids.map((_, i) => t0 + (i / ids.length) * interval)
  let stopped = false
  let lastProgress = t0
  const enc = new TextEncoder()
  const refresh = sc.format === "csv" ? Math.max(1, Math.floor(o.refresh ?? 1)) : 1
  for (const l of links) l.connect()

  const seqsBuf: number[] = []
  const framesBuf: Uint8Array[] = []
  const tick = () => {
    const now = performance.now()
    const t = (now - t0) / 1000
    if (stopped || t >= sc.duration || o.shouldStop?.()) return finish()
    for (let d = 0; d < links.length; d++) {
      if (nextDue[d]! > now) continue
      seqsBuf.length = 0
      framesBuf.length = 0
      let k = 0
      while (nextDue[d]! <= now && k < 1000) {
        const seq = nextSeq[d]!++
        const ts = wall0 + (nextDue[d]! - t0)
        nextDue[d]! += interval
        k++
        let frame: Uint8Array
        if (refresh > 1 && tails[d] !== "" && seq % refresh !== 0) frame = enc.encode(`${ids[d]},${seq},${ts}${tails[d]}\n`)
        else {
          nextReading(signals[d]!, anomalies[d]!, t, interval / 1000, row)
          frame = encodeReading(sc.format, o.schema, ids[d]!, seq, ts, row)
          if (refresh > 1) {
            const line = new TextDecoder().decode(frame)
            tails[d] = line.slice(line.indexOf(",", line.indexOf(",", line.indexOf(",") + 1) + 1), -1)
          }
        }
        seqsBuf.push(seq)
        framesBuf.push(frame)
      }
      links[d]!.sendMany(seqsBuf, framesBuf, now)
    }
    if (now - lastProgress >= 1000 && o.progress) {
      lastProgress = now
      o.progress(progressLine(t))
    }
    setTimeout(tick, TICK_MS)
  }

  const unacked = () => links.reduce((n, l) => n + l.unacked, 0)
  const progressLine = (t: number) =>
    `t=${t.toFixed(0)}s sent=${stats.sent} acked=${stats.acked} unacked=${unacked()} resent=${stats.resent} rejected=${stats.rejected} connected=${links.filter((l) => l.connected).length}/${links.length}`

  let resolveDone: (r: FleetResult) => void = () => {}
  const done = new Promise<FleetResult>((r) => (resolveDone = r))
  let finishing = false
  const finish = async () => {
    if (finishing) return
    finishing = true
    stopped = true
    const sendEnd = performance.now()
    const deadline = sendEnd + (o.graceMs ?? 15_000)
    while (unacked() > 0 && performance.now() < deadline) await Bun.sleep(20)
    const seconds = (sendEnd - t0) / 1000
    for (const l of links) l.close()
    o.progress?.(progressLine(seconds))
    const cpu = process.cpuUsage(cpu0)
    resolveDone({
      started_at: wall0,
      cpu_s: Math.round((cpu.user + cpu.system) / 1e4) / 100,
      devices: links.length,
      seconds: Math.round(seconds * 10) / 10,
      sent: stats.sent,
      acked: stats.acked,
      resent: stats.resent,
      rejected: stats.rejected,
      unacked: unacked(),
      reconnects: stats.reconnects,
      errors_by_code: stats.errors_by_code,
      readings_per_s: Math.round(stats.acked / seconds),
      ack_latency_p50_ms: latencyQuantile(stats.latency, 0.5),
      ack_latency_p99_ms: latencyQuantile(stats.latency, 0.99),
      ...(o.ranges ? {
        ranges: links.map((l, d) => ({ device: l.device, first: o.firstSeq ?? 1, sent_to: nextSeq[d]! - 1, acked_to: l.lastAck, rejected: [...l.rejectedSeqs] })),
      } : {}),
    })
  }
  setTimeout(tick, 0)
  return { stats, links, done, stop: () => void (stopped = true) }
}
