/** Readings reach JetStream; devices are acked only after the PubAck; an outage pauses, never loses. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { encodeReading } from "../../gateway/encode.ts"
import { ensureTelemetryStream, startGateway, type Gateway } from "../../gateway/index.ts"
import { topologyOptions } from "../../runtime/nats/topology.ts"
import { createDeviceCerts, fleetIds } from "../../ops/certs/pki.ts"
import { runFleet } from "../../ops/loadgen/fleet.ts"
import { spawnChild, startNats, waitFor, type NatsServer } from "../harness/index.ts"
import { checkDelivery, makeTestPki, rawClient, streamReadings, testConfig, type TestPki } from "./fixture.ts"
import { natsPorts } from "../../runtime/nats/nats-ports.ts"

let nats: NatsServer
let pki: TestPki
let nc: NatsConnection
/** The test's own view of the stream (admin): the gateway's credentials may not read it. */
let reader: NatsConnection
let gw: Gateway
const schema = loadDeviceSchema()
const logs: string[] = []

beforeAll(async () => {
  ;[nats, pki] = await Promise.all([startNats(), makeTestPki()])
  await createDeviceCerts(pki.dir, fleetIds(5, "sim-"))
  const cfg = testConfig(pki, nats.url, { maxBufferedReadings: 300, maxReadingsPerSec: 10_000 })
  // A node (here: the admin) creates the stream; the gateway's own credentials may only check it and publish.
  reader = await nats.connect()
  await ensureTelemetryStream((await natsPorts(reader)).setup, topologyOptions(cfg))
  nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100, ...nats.auth("gateway") })
  gw = await startGateway(cfg, { nats: await natsPorts(nc), log: (l) => logs.push(l) })
}, 30_000)
afterAll(async () => {
  await gw?.stop({ drainMs: 500 })
  await nc?.close()
  await nats?.cleanup()
})

describe("gateway → JetStream", () => {
  test("JSON, CSV and msgpack readings land in AKIS_TLM as one shard's batches; ACK follows the PubAck", async () => {
    const c = await rawClient(gw.port, pki, "bus-0001")
    const row = Float64Array.from(schema.fields, (f) => f.min + 1)
    const now = Date.now()
    c.write(encodeReading("json", schema, "bus-0001", 1, now, row))
    c.write(encodeReading("csv", schema, "bus-0001", 2, now, row))
    c.write(encodeReading("msgpack", schema, "bus-0001", 3, now, row))
    await c.waitLine(/^ACK 3$/)
    expect(c.lines.every((l) => /^ACK [123]$/.test(l))).toBe(true)
    const rows = await streamReadings(reader)
    expect(rows.filter(([d]) => d === "bus-0001").map(([, s]) => s)).toEqual([1, 2, 3])
    c.end()
  })

  test("`ops loadgen` with a scenario file: anomaly injected into the stream, counts printed as JSON", async () => {
    const { writeFileSync } = await import("node:fs")
    const { join } = await import("node:path")
    const { jetstream } = await import("@nats-io/jetstream")
    const { decodeBatch } = await import("../../runtime/batch.ts")
    const scenario = join(pki.dir, "scenario.yaml")
    writeFileSync(scenario, "devices: 3\nprefix: sim-\nrate: 10\nduration: 3s\nformat: csv\nanomalies:\n  - { device: sim-0002, at: 1s, field: coolant_temp_c, ramp_to: 140, over: 1s }\n")
    const root = join(import.meta.dir, "..", "..")
    const cli = spawnChild("loadgen", ["bun", join(root, "ops", "cli.ts"), "loadgen", "--scenario", scenario, "--gateways", `127.0.0.1:${gw.port}`, "--cert-dir", pki.dir, "--json",
      // From seq 1, as the outage test below numbers the same devices: its check reads the stream from 1.
      "--first-seq", "1"], { cwd: root })
    expect(await cli.exited).toBe(0)
    const result = JSON.parse(cli.output().trim().split("\n").filter((l) => l.startsWith("{")).at(-1)!)
    expect(result).toMatchObject({ devices: 3, rejected: 0, unacked: 0 })
    expect(result.acked).toBe(result.sent)
    expect(cli.output()).toContain("loadgen: t=")
    // The anomaly reached the log: sim-0002's coolant climbs to 140 °C, the others stay normal.
    const coolant = schema.byName.get("coolant_temp_c")!.index
    const maxBy = new Map<string, number>()
    const c = await jetstream(reader).consumers.get("AKIS_TLM")
    const it = await c.consume()
    const last = (await (await import("@nats-io/jetstream")).jetstreamManager(reader).then((m) => m.streams.info("AKIS_TLM"))).state.last_seq
    for await (const m of it) {
      const b = decodeBatch(m.data)
      for (let i = 0; i < b.ids.length; i++) maxBy.set(b.ids[i]!, Math.max(maxBy.get(b.ids[i]!) ?? -Infinity, b.values[i * b.width + coolant]!))
      if (m.seq >= last) break
    }
    await it.close()
    expect(maxBy.get("sim-0002")).toBe(140)
    expect(maxBy.get("sim-0001")!).toBeLessThan(60)
  }, 30_000)

  test("ensuring AKIS_TLM is idempotent and refuses a stream whose retention contradicts the config", async () => {
    const { jetstreamManager } = await import("@nats-io/jetstream")
    const o = topologyOptions(testConfig(pki, nats.url))
    const { setup } = await natsPorts(nc)
    await ensureTelemetryStream(setup, o)
    await ensureTelemetryStream(setup, o)
    await expect(ensureTelemetryStream(setup, { ...o, telemetryMaxAgeHours: 24 })).rejects.toThrow("stream AKIS_TLM exists with settings that contradict the configuration: max_age is 604800 s, configured 86400 s")
    const info = await (await jetstreamManager(nc)).streams.info("AKIS_TLM")
    expect([info.config.max_age, info.config.storage, info.config.retention, info.config.subjects, info.config.max_bytes]).toEqual([168 * 3_600_000_000_000, "file", "limits", ["akis.tlm.*"], o.telemetryMaxMB! * 1024 * 1024])
  })

  test("with nats-server stopped for 10 s under load: no acks, sockets paused, bounded buffer, everything delivered after", async () => {
    const ids = fleetIds(5, "sim-")
    const FIRST = 1_000_000
    const fleet = runFleet({
      scenario: { devices: 5, prefix: "sim-", rate: 40, duration: 16, format: "csv", anomalies: [] }, firstSeq: FIRST,
      schema, addresses: [{ host: "127.0.0.1", port: gw.port }], certDir: pki.dir, graceMs: 20_000,
    })
    await waitFor("first acks", () => fleet.stats.acked > 50, { timeoutMs: 10_000 })
    await nats.stop()
    const outageStart = performance.now()
    await Bun.sleep(300) // ACK lines already on the wire may still arrive
    const ackedAtStop = fleet.stats.acked
    let maxBuffered = 0
    while (performance.now() - outageStart < 10_000) {
      maxBuffered = Math.max(maxBuffered, gw.buffered())
      expect(fleet.stats.acked).toBe(ackedAtStop)
      await Bun.sleep(100)
    }
    expect(gw.metrics.backpressure_pauses).toBeGreaterThanOrEqual(1)
    expect(maxBuffered).toBeLessThan(300 + 5 * 200)
    await nats.start()
    const r = await fleet.done
    expect(r.unacked).toBe(0)
    expect(r.acked).toBe(r.sent)
    const rows = await streamReadings(reader)
    const expected = new Map(ids.map((id, i) => [id, fleet.links[i]!.lastAck]))
    // This run's readings only (the scenario test above sent sim-0001..3 from seq 1): every one
    // exactly once, no copies beyond resends, in order.
    expect(checkDelivery(rows.filter(([d, s]) => d.startsWith("sim-") && s >= FIRST), expected, { firstSeq: FIRST, maxDuplicates: r.resent })).toBeUndefined()
    expect(logs.some((l) => l.includes("back-pressure on"))).toBe(true)
  }, 60_000)
})
