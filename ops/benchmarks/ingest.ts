/**
 * `ops bench ingest`: sustained readings/s through one gateway process (48-field CSV readings over
 * mTLS, validated, batched per shard, published to JetStream, acked after the PubAck), next to
 * the raw ceilings measured in the same run on the same machine:
 * - TLS line echo: the same clients against an mTLS listener that only cuts lines and acks;
 * - raw JetStream publish of batches of the same size as the gateway produced (64 in flight).
 * The clients run in this process, the gateway / echo server in a child process, nats-server in
 * another: on 2 cores everything competes, as it would in production on one box.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect } from "@nats-io/transport-node"
import { join } from "node:path"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { BatchBuilder, encodeBatch } from "../../runtime/batch.ts"
import { telemetrySubject } from "../../runtime/shard.ts"
import { freePort, spawnChild, startNats, tempDir } from "../../tests/harness/index.ts"
import { createCa, createDeviceCerts, createServerCert, fleetIds } from "../certs/pki.ts"
import type { FrameFormat } from "../../gateway/encode.ts"
import { runClosedLoop } from "../loadgen/closed-loop.ts"
import { BusSignals } from "../loadgen/signals.ts"
import { medianSpread } from "./e2e-verdict.ts"
import type { Benchmark } from "./index.ts"
import { loadConfig } from "../../config/index.ts"
import type { NatsAuth } from "../../runtime/nats/auth.ts"
import { ensureTopology, topologyOptions } from "../../runtime/nats/topology.ts"

const DEVICES = 200
const WINDOW = 64
const WARMUP_MS = 2000
const MEASURE_MS = 8000
const PARTITIONS = 64
const root = join(import.meta.dir, "..", "..")
const say = (l: string) => process.stderr.write(`bench ingest: ${l}\n`)

const rawJetStream = async (url: string, auth: NatsAuth, readingsPerBatch: number, ms: number): Promise<number> => {
  const nc = await connect({ servers: url, ...auth })
  const js = jetstream(nc)
  const schema = loadDeviceSchema()
  const row = new Float64Array(schema.fields.length)
  new BusSignals(schema, 1).next(0.5, row)
  const b = new BatchBuilder(row.length, schema.version)
  for (let i = 0; i < readingsPerBatch; i++) b.push(`bus-${String(i % 1000).padStart(4, "0")}`, i, Date.now(), row)
  const bytes = encodeBatch(b.take(Date.now()))
  let n = 0
  let inFlight = 0
  const end = performance.now() + ms
  const t0 = performance.now()
  await new Promise<void>((resolve) => {
    const next = () => {
      while (inFlight < 64 && performance.now() < end) {
        inFlight++
        const k = n++
        js.publish(telemetrySubject(k % PARTITIONS), bytes, { msgID: `raw.${k}` }).then(() => {
          inFlight--
          next()
        })
      }
      if (inFlight === 0) resolve()
    }
    next()
  })
  const seconds = (performance.now() - t0) / 1000
  await nc.close()
  return Math.round((n * readingsPerBatch) / seconds)
}

const bench: Benchmark = {
  description: "readings/s through one mTLS gateway vs raw TLS line echo and raw JetStream publish of the same batches",
  async run({ runs: runsOpt, seconds }) {
    const runs = runsOpt ?? 3
    const measureMs = Math.round((seconds ?? MEASURE_MS / 1000) * 1000)
    if (!(runs >= 1 && measureMs >= 1000)) throw new Error(`--runs ≥ 1 and --seconds ≥ 1 (got ${runs}, ${measureMs / 1000})`)
    const schema = loadDeviceSchema()
    const certDir = tempDir("akis-bench-certs-")
    say(`certificates for ${DEVICES} devices`)
    await createCa(certDir)
    await createServerCert(certDir)
    await createDeviceCerts(certDir, fleetIds(DEVICES, "bench-"))
    const nats = await startNats()
    try {
      const drive = (port: number, format: FrameFormat = "csv", ms = measureMs) =>
        runClosedLoop({ schema, certDir, address: { host: "127.0.0.1", port }, devices: DEVICES, prefix: "bench-", window: WINDOW, warmupMs: WARMUP_MS, measureMs: ms, format, progress: (l) => say(l) })
      const nc = await nats.connect()
      const jsm = await jetstreamManager(nc)
      // Each run measures the gateway and both ceilings one after the other, so they share the
      // machine's state of that moment; the figures are medians over the runs, with their spread.
      const per = { gateway: [] as number[], echo: [] as number[], raw: [] as number[], json: [] as number[], msgpack: [] as number[], p50: [] as number[], p99: [] as number[], batch: [] as number[] }
      for (let r = 1; r <= runs; r++) {
        say(`run ${r}/${runs}, phase 1/3: TLS line echo ceiling`)
        const echoPort = freePort()
        const echo = spawnChild("tls-echo", ["bun", join(import.meta.dir, "tls-echo-main.ts"), certDir, String(echoPort)])
        await echo.waitForLine(/listening/)
        const e = await drive(echoPort)
        await echo.kill()

        say(`run ${r}/${runs}, phase 2/3: gateway (validate + batch + JetStream + durable acks)`)
        // The gateway's credentials may not create AKIS_TLM (a node's or the admin's job).
        await ensureTopology(jsm, topologyOptions(loadConfig()), { only: ["AKIS_TLM"] })
        const gwPort = freePort()
        const gw = spawnChild("gateway", ["bun", join(root, "ops", "gateway-main.ts")], {
          cwd: root,
          env: {
            AKIS_NATS__SERVERS: `[${nats.url}]`, AKIS_CLUSTER__PARTITIONS: String(PARTITIONS), AKIS_GATEWAY__PORT: String(gwPort),
            AKIS_GATEWAY__CERTDIR: certDir, AKIS_GATEWAY__MAXREADINGSPERSEC: "1000000",
          },
        })
        await gw.waitForLine(/gateway listening/, 60_000)
        const before = (await jsm.streams.info("AKIS_TLM")).state.messages
        const g = await drive(gwPort)
        const stored = (await jsm.streams.info("AKIS_TLM")).state.messages - before
        say(`run ${r}/${runs}, phase 2b: the same gateway with JSON lines and msgpack frames`)
        const gJson = await drive(gwPort, "json", measureMs / 2)
        const gMsgpack = await drive(gwPort, "msgpack", measureMs / 2)
        await gw.kill("SIGTERM")
        const perBatch = Math.max(1, Math.round((g.acked * ((WARMUP_MS + measureMs) / measureMs)) / Math.max(1, stored)))

        say(`run ${r}/${runs}, phase 3/3: raw JetStream publish of ${perBatch}-reading batches, 64 in flight`)
        const raw = await rawJetStream(nats.url, nats.auth(), perBatch, measureMs)
        per.gateway.push(g.readings_per_s)
        per.echo.push(e.readings_per_s)
        per.raw.push(raw)
        per.json.push(gJson.readings_per_s)
        per.msgpack.push(gMsgpack.readings_per_s)
        per.p50.push(g.ack_latency_p50_ms)
        per.p99.push(g.ack_latency_p99_ms)
        per.batch.push(perBatch)
        say(`run ${r}/${runs}: gateway ${g.readings_per_s}/s, TLS echo ${e.readings_per_s}/s, raw JetStream ${raw}/s`)
      }
      const m = (xs: number[]) => medianSpread(xs).median
      const spread = (xs: number[]) => [Math.min(...xs), Math.max(...xs)]
      // Ratios per run (same machine state), then their median.
      const ratios = (ceil: number[]) => per.gateway.map((g, i) => g / ceil[i]!)
      return {
        readings_per_s: Math.round(m(per.gateway)),
        readings_per_s_spread: spread(per.gateway),
        runs,
        raw_jetstream_readings_per_s: Math.round(m(per.raw)),
        raw_jetstream_spread: spread(per.raw),
        ratio: Math.round(m(ratios(per.raw)) * 1000) / 1000,
        tls_echo_readings_per_s: Math.round(m(per.echo)),
        tls_echo_spread: spread(per.echo),
        ratio_to_tls_echo: Math.round(m(ratios(per.echo)) * 1000) / 1000,
        json_readings_per_s: Math.round(m(per.json)),
        msgpack_readings_per_s: Math.round(m(per.msgpack)),
        ack_latency_p50_ms: m(per.p50),
        ack_latency_p99_ms: m(per.p99),
        readings_per_batch: Math.round(m(per.batch)),
        devices: DEVICES,
        window_per_device: WINDOW,
        format: "csv",
        fields: schema.fields.length,
        measure_s: measureMs / 1000,
      }
    } finally {
      await nats.cleanup()
    }
  },
}
export default bench
