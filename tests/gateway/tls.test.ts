/** The gateway refuses every kind of bad client certificate, logs the peer, and counts the reason. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { startGateway, type Gateway } from "../../gateway/index.ts"
import { revokeDevice } from "../../ops/certs/pki.ts"
import { startNats, waitFor, type NatsServer } from "../harness/index.ts"
import { makeTestPki, rawClient, testConfig, type TestPki } from "./fixture.ts"
import { natsPorts } from "../../runtime/nats/nats-ports.ts"

let nats: NatsServer
let pki: TestPki
let gw: Gateway
const logs: string[] = []

beforeAll(async () => {
  ;[nats, pki] = await Promise.all([startNats(), makeTestPki()])
  gw = await startGateway(testConfig(pki, nats.url, { idleTimeoutMs: 1000 }), { nats: await natsPorts(await nats.connect()), log: (l) => logs.push(l) })
}, 30_000)
afterAll(async () => {
  await gw?.stop({ drainMs: 500 })
  await nats?.cleanup()
})

const now = () => Date.now()
const reading = (seq: number, device = "bus-0001") => `{"device":"${device}","seq":${seq},"ts":${now()},"speed_kmh":10}\n`

describe("gateway TLS", () => {
  test.each([
    ["none", "no_cert"],
    ["self", "self_signed"],
    ["wrongca", "unknown_ca"],
    ["expired", "expired"],
    ["future", "not_yet_valid"],
    ["revoked", "revoked"],
    ["bad.id", "bad_device_id"],
  ] as const)("refuses a client with %s certificate (%s), logged with the peer address", async (who, reason) => {
    const c = await rawClient(gw.port, pki, who)
    c.write(reading(1))
    await c.closed
    expect(gw.metrics.tls_refused_by_reason[reason]).toBeGreaterThanOrEqual(1)
    expect(logs.some((l) => new RegExp(`refused TLS client 127\\.0\\.0\\.1:\\d+: ${reason}`).test(l))).toBe(true)
    expect(c.lines.filter((l) => l.startsWith("ACK"))).toEqual([])
  })

  test("accepts a fleet device and acks its reading after the PubAck", async () => {
    const c = await rawClient(gw.port, pki, "bus-0003")
    c.write(reading(1, "bus-0003"))
    expect(await c.waitLine(/^ACK/)).toBe("ACK 1")
    c.end()
  })

  test("refuses readings that name another device, keeping the connection", async () => {
    const c = await rawClient(gw.port, pki, "bus-0001")
    c.write(reading(1, "bus-0002"))
    expect(await c.waitLine(/^ERR/)).toStartWith("ERR id_mismatch seq=1 ")
    expect(logs.some((l) => /bus-0001 \(127\.0\.0\.1:\d+\) sent a reading for device "bus-0002"/.test(l))).toBe(true)
    c.write(reading(2))
    expect(await c.waitLine(/^ACK/)).toBe("ACK 2")
    c.end()
  })

  test("a new connection of the same device replaces the old one", async () => {
    const a = await rawClient(gw.port, pki, "bus-0002")
    const b = await rawClient(gw.port, pki, "bus-0002")
    await a.closed
    expect(a.lines.at(-1)).toStartWith("ERR replaced ")
    b.write(reading(5, "bus-0002"))
    expect(await b.waitLine(/^ACK/)).toBe("ACK 5")
    expect(gw.metrics.connections_replaced).toBeGreaterThanOrEqual(1)
    b.end()
  })

  test("closes an idle connection with idle_timeout", async () => {
    const c = await rawClient(gw.port, pki, "bus-0001")
    await c.closed
    expect(c.lines.at(-1)).toStartWith("ERR idle_timeout ")
    expect(gw.metrics.connections_closed_idle).toBeGreaterThanOrEqual(1)
  })

  test("a revocation takes effect without restart: the live connection is closed, the next refused", async () => {
    const c = await rawClient(gw.port, pki, "bus-0003")
    c.write(reading(10, "bus-0003"))
    await c.waitLine(/^ACK 10/)
    await revokeDevice(pki.dir, "bus-0003")
    await c.closed
    expect(c.lines.at(-1)).toContain("certificate revoked")
    const again = await rawClient(gw.port, pki, "bus-0003")
    await again.closed
    await waitFor("revoked counted", () => logs.some((l) => l.includes("revoked: serial")))
  })
})

describe("gateway framing over the wire", () => {
  test("a slow sender's reading split over several TCP packets is acked once complete", async () => {
    const c = await rawClient(gw.port, pki, "bus-0001")
    const line = reading(100)
    for (const part of [line.slice(0, 5), line.slice(5, 30), line.slice(30)]) {
      c.write(part)
      await Bun.sleep(50) // separate packets, as a slow device would send them
    }
    expect(await c.waitLine(/^ACK/)).toBe("ACK 100")
    c.end()
  })

  test("bad frames get their ERR code, valid readings around them are acked", async () => {
    const c = await rawClient(gw.port, pki, "bus-0001")
    c.write(reading(200))
    c.write(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d, 0x0a])) // invalid UTF-8
    c.write(`{"seq":201,"ts":${now()},"speed_kmh":NaN}\n`)
    c.write(`bus-0001,202,${now()},Infinity${",".repeat(47)}\n`)
    c.write(`${"x".repeat(70_000)}\n`)
    c.write(`{"seq":203,"ts":${now()},"speed_kmh":900}\n`)
    c.write(`{"seq":204,"ts":${now()},"warp":1}\n`)
    c.write(reading(205))
    await c.waitLine(/^ACK 205$/)
    expect(c.lines.filter((l) => l.startsWith("ERR")).map((l) => l.split(" ")[1])).toEqual(["bad_utf8", "bad_json", "bad_value", "too_large", "out_of_range", "unknown_field"])
    c.end()
  })
})
