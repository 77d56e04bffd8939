/**
 * `ops bench ack-modes`: what each acknowledgement mode (gateway/ack-mode.ts) costs and saves at a
 * fixed offered load: gateway CPU per 100k readings and downstream bytes (gateway → devices) per
 * reading, for `each`, `coalesced` (100 ms and 1 s) and `none`. Open loop: 200 devices send 48-field
 * CSV readings at a fixed total rate whatever the acks do. A fresh gateway process per mode, so its
 * CPU time is that mode's alone; nats-server in another process; the clients in this one.
 * After each mode every sent reading must be durable (acked, or for `none` counted in the stream).
 */
import type { Socket } from "bun"
import { join } from "node:path"
import { jetstreamManager } from "@nats-io/jetstream"
import { loadConfig } from "../../config/index.ts"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { ensureStreams, topologyOptions } from "../../runtime/nats/topology.ts"
import { csvLine } from "../../gateway/encode.ts"
import { freePort, spawnChild, startNats, tempDir, waitFor } from "../../tests/harness/index.ts"
import { streamReadings } from "../../tests/gateway/fixture.ts"
import { createCa, createDeviceCerts, createServerCert, fleetIds, pkiPaths } from "../certs/pki.ts"
import { processCpuMs } from "../lib/cpu.ts"
import { BusSignals } from "../loadgen/signals.ts"
import type { Benchmark } from "./index.ts"

const DEVICES = 200
const RATE = 10_000
const WARMUP_MS = 2000
const MEASURE_MS = 8000
const root = join(import.meta.dir, "..", "..")
const say = (l: string) => process.stderr.write(`bench ack-modes: ${l}\n`)

const modes = [
  { name: "each", line: '{"ack":"each"}\n' },
  { name: "coalesced_100ms", line: '{"ack":"coalesced","ms":100}\n' },
  { name: "coalesced_1000ms", line: '{"ack":"coalesced","ms":1000}\n' },
  { name: "none", line: '{"ack":"none"}\n' },
]

interface Device {
  socket: Socket<undefined> | undefined
  seq: number
  acked: number
  bytesIn: number
  ackLines: number
}

const bench: Benchmark = {
  description: "gateway CPU and downstream bytes per reading for each ACK mode (each, coalesced, none) at a fixed load",
  async run() {
    const schema = loadDeviceSchema()
    const certDir = tempDir("akis-bench-acks-")
    say(`certificates for ${DEVICES} devices`)
    await createCa(certDir)
    await createServerCert(certDir)
    const ids = fleetIds(DEVICES, "ack-")
    await createDeviceCerts(certDir, ids)
    const p = pkiPaths(certDir)
    const row = new Float64Array(schema.fields.length)
    new BusSignals(schema, 1).next(0.5, row)
    const nats = await startNats()
    const nc = await nats.connect()
    // The gateway's credentials may not create AKIS_TLM (a node does, at start): create it as admin,
    // with the settings the gateway's default config checks it against.
    await ensureStreams(await jetstreamManager(nc), topologyOptions(loadConfig({ env: {} })))
    const out: Record<string, unknown> = { devices: DEVICES, offered_readings_per_s: RATE, measure_s: MEASURE_MS / 1000, format: "csv", fields: schema.fields.length }
    try {
      for (const [k, mode] of modes.entries()) {
        // Each mode numbers from its own million, so the stream tells the modes' readings apart.
        const base = (k + 1) * 1_000_000
        const port = freePort()
        const gw = spawnChild("gateway", ["bun", join(root, "ops", "gateway-main.ts")], {
          cwd: root,
          env: { AKIS_NATS__SERVERS: `[${nats.url}]`, AKIS_GATEWAY__PORT: String(port), AKIS_GATEWAY__CERTDIR: certDir, AKIS_GATEWAY__MAXREADINGSPERSEC: "1000000" },
        })
        await gw.waitForLine(/gateway listening/, 20_000)
        const devs: Device[] = ids.map(() => ({ socket: undefined, seq: base, acked: base, bytesIn: 0, ackLines: 0 }))
        // Bytes written before the TLS handshake completes are not sent: write from `handshake` on.
        await Promise.all(ids.map((id, i) => new Promise<void>((ready, fail) => void Bun.connect<undefined>({
          hostname: "127.0.0.1", port,
          tls: { ca: Bun.file(p.caCert), cert: Bun.file(p.deviceCert(id)), key: Bun.file(p.deviceKey(id)), serverName: "localhost" },
          socket: {
            handshake(s) {
              devs[i]!.socket = s
              s.write(mode.line)
              ready()
            },
            data(_s, chunk) {
              const d = devs[i]!
              d.bytesIn += chunk.length
              const text = new TextDecoder().decode(chunk)
              for (const m of text.matchAll(/^ACK (\d+)$/gm)) {
                d.ackLines++
                d.acked = Math.max(d.acked, Number(m[1]))
              }
            },
          },
        }).catch(fail))))
        say(`${mode.name}: ${DEVICES} devices connected, ${RATE} readings/s for ${(WARMUP_MS + MEASURE_MS) / 1000} s`)
        const t0 = performance.now()
        let sent = 0
        let cpu0 = 0
        let bytes0 = 0
        let lines0 = 0
        let started = false
        const totalBytes = () => devs.reduce((n, d) => n + d.bytesIn, 0)
        const totalLines = () => devs.reduce((n, d) => n + d.ackLines, 0)
        // Open loop: every 10 ms, the readings due by now, spread over the devices.
        while (performance.now() - t0 < WARMUP_MS + MEASURE_MS) {
          const due = Math.floor(((performance.now() - t0) / 1000) * RATE)
          for (; sent < due; sent++) {
            const d = devs[sent % DEVICES]!
            d.seq++
            d.socket!.write(csvLine("", d.seq, Date.now(), row, row.length))
          }
          if (!started && performance.now() - t0 >= WARMUP_MS) {
            started = true
            cpu0 = processCpuMs(gw.proc.pid)
            bytes0 = totalBytes()
            lines0 = totalLines()
          }
          await Bun.sleep(10)
        }
        const cpuMs = processCpuMs(gw.proc.pid) - cpu0
        const bytes = totalBytes() - bytes0
        const lines = totalLines() - lines0
        const measured = Math.round((RATE * MEASURE_MS) / 1000)
        // Everything sent must be durable: acked (each, coalesced) or in the stream (none).
        if (mode.name === "none") {
          await waitFor("every reading in the stream", async () => {
            const seen = new Set((await streamReadings(nc)).filter(([, q]) => q > base && q < base + 1_000_000).map(([d, q]) => `${d}:${q}`))
            return seen.size === sent
          }, { timeoutMs: 30_000, intervalMs: 2000 })
        } else {
          await waitFor("every reading acked", () => devs.every((d) => d.acked === d.seq), { timeoutMs: 20_000 })
        }
        for (const d of devs) d.socket?.end()
        await gw.kill("SIGTERM")
        const r = {
          gateway_cpu_s_per_100k: Math.round((cpuMs / measured) * 100_000) / 1000,
          downstream_bytes_per_reading: Math.round((bytes / measured) * 100) / 100,
          ack_lines_per_s: Math.round(lines / (MEASURE_MS / 1000)),
          sent,
        }
        say(`${mode.name}: ${JSON.stringify(r)}`)
        out[mode.name] = r
      }
      return out
    } finally {
      await nc.close()
      await nats.cleanup()
    }
  },
}
export default bench
