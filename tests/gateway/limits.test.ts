/**
 * Connection lifecycle and limits over real mTLS, judged with a node:tls client that shares no
 * code with akis: the idle timeout is re-armed by data, a uint64 msgpack frame does not wedge the
 * connection, a burst is throttled to the per-device rate without losing a reading, and new
 * devices wait while the cluster lags.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { pack } from "msgpackr"
import { startGateway, type Gateway } from "../../gateway/index.ts"
import { frameMsgpack } from "../../gateway/framer.ts"
import { startNats, waitFor, type NatsServer } from "../harness/index.ts"
import { makeTestPki, streamReadings, testConfig, type TestPki } from "./fixture.ts"
import { plainClient } from "./plain-client.ts"
import { natsPorts } from "../../runtime/nats/nats-ports.ts"
import { LagReport } from "../../runtime/wire.ts"

// Long enough that a loaded 2-core machine does not stall the test's own sender past it.
const IDLE_MS = 2000
const RATE = 4000
let nats: NatsServer
let pki: TestPki
let gw: Gateway
let nc: Awaited<ReturnType<NatsServer["connect"]>>

beforeAll(async () => {
  ;[nats, pki] = await Promise.all([startNats(), makeTestPki()])
  nc = await nats.connect()
  gw = await startGateway(testConfig(pki, nats.url, { idleTimeoutMs: IDLE_MS, maxReadingsPerSec: RATE }), { nats: await natsPorts(nc), log: () => {} })
}, 30_000)
afterAll(async () => {
  await gw?.stop({ drainMs: 500 })
  await nc?.close()
  await nats?.cleanup()
})

const reading = (seq: number) => `{"seq":${seq},"ts":${Date.now()},"speed_kmh":10}\n`

describe("gateway connection lifecycle", () => {
  test("a device talking for 4× idleTimeoutMs is never closed; once silent it is closed at the deadline with ERR idle_timeout", async () => {
    const c = await plainClient(gw.port, pki.dir, "bus-0001")
    let closed = false
    void c.closedAt.then(() => (closed = true))
    const t0 = performance.now()
    let seq = 0
    let lastByte = 0
    while (performance.now() - t0 < 4 * IDLE_MS) {
      c.write(reading(++seq))
      lastByte = performance.now()
      await Bun.sleep(200)
    }
    expect(closed).toBe(false)
    await c.waitLine(new RegExp(`^ACK ${seq}$`))
    const at = await c.closedAt
    expect(c.lines.map((l) => l.line).filter((l) => l.startsWith("ERR"))).toEqual([expect.stringMatching(/^ERR idle_timeout /)])
    // Closed after a full idleTimeoutMs of silence, and not much later (sweep period + a loaded machine).
    expect(at - lastByte).toBeGreaterThanOrEqual(IDLE_MS - 50)
    expect(at - lastByte).toBeLessThan(IDLE_MS + 3000)
  }, 30_000)

  test("a msgpack frame with a uint64 seq gets ERR bad_seq and the next JSON reading on the same connection is ACKed", async () => {
    const c = await plainClient(gw.port, pki.dir, "bus-0003")
    // fixarray(4) [nil, uint64 2^64-1, ts, []]: written by hand, as a foreign device would.
    const u64 = new Uint8Array([0x94, 0xc0, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...pack(Date.now()), 0x90])
    c.write(frameMsgpack(u64))
    c.write(frameMsgpack(new Uint8Array([0x94, 0xc0, 0xcf, 0x00]))) // truncated inside its frame
    c.write(reading(7))
    expect(await c.waitLine(/^ACK/)).toBe("ACK 7")
    expect(c.lines.map((l) => l.line.split(" ").slice(0, 2).join(" "))).toEqual(["ERR bad_seq", "ERR bad_msgpack", "ACK 7"])
    expect(gw.metrics.rejected_by_code.bad_seq).toBeGreaterThanOrEqual(1)
    expect(gw.metrics.rejected_by_code.bad_msgpack).toBeGreaterThanOrEqual(1)
    expect(gw.metrics.decoder_exceptions).toBe(0)
    c.end()
  })

  test("a 20,000-reading burst written at once is accepted at the configured rate, and every reading is stored", async () => {
    const N = 20_000
    const c = await plainClient(gw.port, pki.dir, "bus-0002")
    let burst = ""
    for (let i = 1; i <= N; i++) burst += reading(i)
    const t0 = performance.now()
    c.write(burst)
    await c.waitLine(new RegExp(`^ACK ${N}$`), 60_000)
    const acks = c.lines.filter((l) => l.line.startsWith("ACK ")).map((l) => ({ seq: Number(l.line.slice(4)), at: l.at }))
    // The rate after the first second's burst: from the ack covering seq RATE to the last one.
    const from = acks.find((a) => a.seq >= RATE)!
    const rate = ((N - from.seq) / (acks.at(-1)!.at - from.at)) * 1000
    console.log(`burst of ${N}: all acked after ${((performance.now() - t0) / 1000).toFixed(1)} s, accepted at ${rate.toFixed(0)} readings/s (limit ${RATE})`)
    expect(rate).toBeLessThan(RATE * 1.3)
    expect(rate).toBeGreaterThan(RATE * 0.3)
    expect(c.lines.some((l) => l.line.startsWith("ERR rate_limit"))).toBe(true)
    expect(c.lines.filter((l) => l.line.startsWith("ERR") && !l.line.startsWith("ERR rate_limit"))).toEqual([])
    c.end()
    // Nothing valid dropped: the stream holds every seq 1..N of bus-0002.
    const stored = new Set((await streamReadings(nc)).filter(([d]) => d === "bus-0002").map(([, s]) => s))
    const missing = Array.from({ length: N }, (_, i) => i + 1).filter((s) => !stored.has(s))
    expect(missing).toEqual([])
  }, 90_000)

  test("a reconnect does not refill the device's budget", async () => {
    const N = RATE // one second's worth at once, right after spending the budget
    const a = await plainClient(gw.port, pki.dir, "bus-0001")
    let burst = ""
    for (let i = 1; i <= N; i++) burst += reading(1000 + i)
    a.write(burst)
    await a.waitLine(new RegExp(`^ACK ${1000 + N}$`), 30_000)
    a.socket.destroy()
    const b = await plainClient(gw.port, pki.dir, "bus-0001")
    burst = ""
    for (let i = 1; i <= N; i++) burst += reading(2000 + i)
    const t0 = performance.now()
    b.write(burst)
    await b.waitLine(new RegExp(`^ACK ${2000 + N}$`), 30_000)
    const took = performance.now() - t0
    console.log(`after a reconnect, ${N} readings took ${took.toFixed(0)} ms at ${RATE}/s`)
    // A fresh budget would take them at once; the spent one needs about a second.
    expect(took).toBeGreaterThan(500)
    expect(b.lines.some((l) => l.line.startsWith("ERR rate_limit"))).toBe(true)
    b.end()
  }, 60_000)

  test("ack modes over the wire: coalesced sends at most one ACK per interval and ends on the last seq; none sends no ACK and loses nothing", async () => {
    const c = await plainClient(gw.port, pki.dir, "bus-0001")
    c.write('{"ack":"coalesced","ms":500}\n')
    expect(await c.waitLine(/^ACKMODE/)).toBe("ACKMODE coalesced ms=500")
    const t0 = performance.now()
    for (let i = 1; i <= 40; i++) {
      c.write(reading(5000 + i))
      await Bun.sleep(25)
    }
    await c.waitLine(/^ACK 5040$/)
    const acks = c.lines.filter((l) => l.line.startsWith("ACK "))
    // ~1 s of readings, each durable within ms of its write: at most one ACK per 500 ms (+1 for the first).
    expect(acks.length).toBeLessThanOrEqual(Math.ceil((acks.at(-1)!.at - t0) / 500) + 1)
    for (let i = 1; i < acks.length; i++) expect(acks[i]!.at - acks[i - 1]!.at).toBeGreaterThan(400)
    c.end()

    const d = await plainClient(gw.port, pki.dir, "bus-0003")
    d.write('{"ack":"none"}\n')
    expect(await d.waitLine(/^ACKMODE/)).toBe("ACKMODE none")
    for (let i = 1; i <= 50; i++) d.write(reading(6000 + i))
    await waitFor("all 50 readings of bus-0003 in the stream", async () =>
      new Set((await streamReadings(nc)).filter(([dev, q]) => dev === "bus-0003" && q > 6000).map(([, q]) => q)).size === 50, { timeoutMs: 10_000, intervalMs: 200 })
    expect(d.lines.map((l) => l.line)).toEqual(["ACKMODE none"])
    d.end()
  }, 30_000)

  test("while a node reports a shard lagging past admitMaxLagBatches, new devices are refused at accept (counted); connected ones go on; admitted again once it catches up or its report goes stale", async () => {
    const config = testConfig(pki, nats.url, { admitMaxLagBatches: 500 })
    // Reports are trusted for ten heartbeats: 3 s here.
    const gw = await startGateway({ ...config, node: { ...config.node, heartbeatMs: 300 } }, { nats: await natsPorts(nc), log: () => {} })
    const report = (lagBatches: number) => {
      nc.publish("akis.ctl.lag.test-node", LagReport.toBytes({ node: "test-node", lagBatches, shard: 5 }))
      return waitFor(`the gateway heard lag ${lagBatches}`, () => gw.metrics.cluster_lag_batches === lagBatches, { timeoutMs: 5_000, intervalMs: 10 })
    }
    const tryConnect = (device: string) => plainClient(gw.port, pki.dir, device).then((c) => c, (e: Error) => e)
    const connected = await plainClient(gw.port, pki.dir, "bus-0003")
    const refusedBefore = gw.metrics.connections_refused_by_reason.cluster_lagging ?? 0
    await report(501)
    const refused = await tryConnect("bus-0001")
    expect(refused).toBeInstanceOf(Error)
    expect(gw.metrics.connections_refused_by_reason.cluster_lagging).toBe(refusedBefore + 1)
    connected.write(reading(1)) // a device already connected is served
    expect(await connected.waitLine(/^ACK/)).toBe("ACK 1")

    await report(500) // caught up to within the bound
    const admitted = await tryConnect("bus-0001")
    expect(admitted).not.toBeInstanceOf(Error)
    ;(admitted as Awaited<ReturnType<typeof plainClient>>).end()

    await report(9_000)
    expect(await tryConnect("bus-0002")).toBeInstanceOf(Error)
    // The node stopped reporting (dead): after ten heartbeats (3 s) its report no longer counts.
    await Bun.sleep(3_200)
    const late = await tryConnect("bus-0002")
    expect(late).not.toBeInstanceOf(Error)
    ;(late as Awaited<ReturnType<typeof plainClient>>).end()
    expect(gw.metrics.connections_refused_by_reason.cluster_lagging).toBe(refusedBefore + 2)
    connected.end()
    await gw.stop({ drainMs: 200 })
  }, 30_000)

  test("admission does not go by lag unless configured (admitMaxLagBatches 0, the default)", async () => {
    nc.publish("akis.ctl.lag.test-node", LagReport.toBytes({ node: "test-node", lagBatches: 1e6, shard: 5 }))
    await waitFor("the gateway heard it", () => gw.metrics.cluster_lag_batches === 1e6, { timeoutMs: 5_000, intervalMs: 10 })
    const c = await plainClient(gw.port, pki.dir, "bus-0001")
    c.end()
  })
})
