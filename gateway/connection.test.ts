import { describe, expect, test } from "bun:test"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { ErrCode } from "./codes.ts"
import { DeviceConnection, type ConnectionContext } from "./connection.ts"
import { jsonLine } from "./encode.ts"
import { Ingest } from "./ingest.ts"
import { newMetrics } from "./metrics.ts"

const schema = loadDeviceSchema()
const row = Float64Array.from(schema.fields, (f) => f.min)
const enc = new TextEncoder()

const setup = (limits: Partial<ConnectionContext["limits"]> = {}) => {
  const out: string[] = []
  const throttles: number[] = []
  let closed = false
  let now = 1_700_000_000_000
  const metrics = newMetrics()
  const publishes: Array<() => void> = []
  const ingest = new Ingest({
    partitions: 8, width: schema.fields.length, schemaVersion: 1, flushBytes: 1 << 20, flushMs: 5, maxBufferedReadings: 1e6,
    maxInFlight: 8, instanceId: "t", metrics, now: () => now, schedule: () => {}, onPressure: () => {},
    publish: () => new Promise((r) => publishes.push(() => r(undefined))),
  })
  const ctx: ConnectionContext = {
    schema, ingest, metrics, now: () => now, log: () => {}, partitionsShard: () => 3,
    limits: { maxFrameBytes: 4096, maxErrors: 3, maxReadingsPerSec: 1000, maxFutureSkewMs: 60_000, maxPastSkewMs: 60_000, ...limits },
  }
  const conn = new DeviceConnection("bus-0001", "127.0.0.1", ctx, {
    write: (t) => out.push(t),
    throttle: (ms) => throttles.push(ms),
    close: () => (closed = true),
  })
  const send = (s: string | Uint8Array) => conn.onData(typeof s === "string" ? enc.encode(s) : s)
  const reading = (seq: number, device = "bus-0001") => jsonLine(schema, device, seq, now, row)
  return { conn, out, throttles, metrics, ingest, publishes, send, reading, isClosed: () => closed, advance: (ms: number) => (now += ms) }
}

describe("DeviceConnection", () => {
  test("answers ACK with the highest durable seq only after the publish is acknowledged", async () => {
    const t = setup()
    t.send(t.reading(1) + t.reading(2))
    t.advance(5)
    t.ingest.tick()
    expect(t.out).toEqual([])
    t.publishes[0]!()
    await Bun.sleep(0)
    expect(t.out).toEqual(["ACK 2\n"])
  })

  test("a reading split across packets is accepted once complete", () => {
    const t = setup()
    const r = enc.encode(t.reading(1))
    t.send(r.subarray(0, 17))
    expect(t.metrics.accepted).toBe(0)
    t.send(r.subarray(17))
    expect(t.metrics.accepted).toBe(1)
  })

  test("refuses a reading for another device with id_mismatch and counts it", () => {
    const t = setup()
    t.send(t.reading(1, "bus-0002"))
    expect(t.out[0]).toStartWith(`ERR ${ErrCode.idMismatch} seq=1 `)
    expect(t.metrics.rejected_by_code).toEqual({ id_mismatch: 1 })
    expect(t.metrics.accepted).toBe(0)
  })

  test("an oversized line gets too_large and the next reading still goes through", () => {
    const t = setup()
    t.send(`${"x".repeat(5000)}\n${t.reading(1)}`)
    expect(t.out[0]).toStartWith(`ERR ${ErrCode.tooLarge} `)
    expect(t.metrics.accepted).toBe(1)
  })

  test("closes with too_many_errors at the error threshold", () => {
    const t = setup()
    t.send("{bad\n{bad\n{bad\n")
    expect(t.out.at(-1)).toStartWith(`ERR ${ErrCode.tooManyErrors} `)
    expect(t.isClosed()).toBe(true)
    t.send(t.reading(1))
    expect(t.metrics.accepted).toBe(0)
  })

  test("throttles above the readings/s budget instead of dropping", () => {
    const t = setup({ maxReadingsPerSec: 2 })
    t.send(t.reading(1) + t.reading(2) + t.reading(3) + t.reading(4))
    expect(t.metrics.accepted).toBe(4)
    expect(t.throttles).toEqual([1000])
    expect(t.out[0]).toStartWith(`ERR ${ErrCode.rateLimit} `)
    expect(t.metrics.rate_limited).toBe(1)
  })
})
