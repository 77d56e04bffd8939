import { describe, expect, test } from "bun:test"
import { TestClock } from "../runtime/clock.ts"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { ErrCode } from "./codes.ts"
import { DeviceConnection, type ConnectionContext } from "./connection.ts"
import { jsonLine } from "./encode.ts"
import { Ingest } from "./ingest.ts"
import { newMetrics } from "./metrics.ts"
import { RateBudgets } from "./rate.ts"

const schema = loadDeviceSchema()
const row = Float64Array.from(schema.fields, (f) => f.min)
const enc = new TextEncoder()

const setup = (limits: Partial<ConnectionContext["limits"]> = {}, budgets?: RateBudgets, device = "bus-0001") => {
  const out: string[] = []
  const throttles: number[] = []
  const resumes: Array<() => void> = []
  let closed = false
  const clock = new TestClock(1_700_000_000_000)
  const metrics = newMetrics()
  const publishes: Array<() => void> = []
  const ingest = new Ingest({
    partitions: 8, width: schema.fields.length, schemaVersion: 1, flushBytes: 1 << 20, flushMs: 5, maxBufferedReadings: 1e6,
    maxInFlight: 8, instanceId: "t", metrics, clock, onPressure: () => {},
    publish: () => new Promise((r) => publishes.push(() => r(undefined))),
  })
  const lim = { maxFrameBytes: 4096, maxErrors: 3, maxReadingsPerSec: 1000, maxFutureSkewMs: 60_000, maxPastSkewMs: 60_000, ...limits }
  const ctx: ConnectionContext = {
    schema, ingest, metrics, clock, log: () => {}, partitionsShard: () => 3, limits: lim,
    budgets: budgets ?? new RateBudgets(lim.maxReadingsPerSec),
  }
  const conn = new DeviceConnection(device, "127.0.0.1", ctx, {
    write: (t) => out.push(t),
    throttle: (ms, resume) => {
      throttles.push(ms)
      resumes.push(resume)
    },
    close: () => (closed = true),
  })
  const send = (s: string | Uint8Array) => conn.onData(typeof s === "string" ? enc.encode(s) : s)
  const reading = (seq: number, device = "bus-0001") => jsonLine(schema, device, seq, clock.now(), row)
  return { conn, out, throttles, resumes, ctx, metrics, clock, ingest, publishes, send, reading, isClosed: () => closed, advance: (ms: number) => clock.advance(ms) }
}

describe("DeviceConnection", () => {
  test("answers ACK with the highest durable seq only after the publish is acknowledged", async () => {
    const t = setup()
    t.send(t.reading(1) + t.reading(2))
    await t.advance(5)
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

  test("throttles above the readings/s budget instead of dropping: the rest of the chunk waits", async () => {
    const t = setup({ maxReadingsPerSec: 2 })
    t.send(t.reading(1) + t.reading(2) + t.reading(3) + t.reading(4))
    // The budget (burst 2) is spent after 2 readings: the other 2 wait in the framer.
    expect(t.metrics.accepted).toBe(2)
    expect(t.throttles).toEqual([500])
    expect(t.out[0]).toStartWith(`ERR ${ErrCode.rateLimit} `)
    expect(t.metrics.rate_limited).toBe(1)
    // Bytes read before the socket paused only queue up.
    t.send(t.reading(5))
    expect(t.metrics.accepted).toBe(2)
    await t.advance(500)
    t.resumes.shift()!()
    expect(t.metrics.accepted).toBe(3)
    await t.advance(500)
    t.resumes.shift()!()
    await t.advance(500)
    t.resumes.shift()!()
    expect(t.metrics.accepted).toBe(5)
    // One notice per second of throttling, not one per pause.
    expect(t.out.filter((l) => l.startsWith("ERR rate_limit")).length).toBe(2)
  })

  test("the budget is per device: a reconnect does not refill it", () => {
    const budgets = new RateBudgets(5)
    const a = setup({ maxReadingsPerSec: 5 }, budgets)
    a.send([1, 2, 3, 4, 5].map((n) => a.reading(n)).join(""))
    expect(a.metrics.accepted).toBe(5)
    a.conn.gone()
    // Same device, same instant, a new connection (same clock as the first one's start).
    const b = setup({ maxReadingsPerSec: 5 }, budgets)
    b.send(b.reading(6) + b.reading(7))
    expect(b.metrics.accepted).toBe(1)
    expect(b.conn.isThrottled).toBe(true)
    // Another device has its own budget.
    const c = setup({ maxReadingsPerSec: 5 }, budgets, "bus-0002")
    c.send(c.reading(1, "bus-0002") + c.reading(2, "bus-0002"))
    expect(c.metrics.accepted).toBe(2)
  })

  test("a decoder that throws gets its frame refused; the next frame is answered", () => {
    const t = setup()
    const orig = t.ctx.ingest.add.bind(t.ctx.ingest)
    let once = true
    t.ctx.ingest.add = (...args: Parameters<typeof orig>) => {
      if (once) {
        once = false
        throw new TypeError("boom")
      }
      return orig(...args)
    }
    t.send(t.reading(1) + t.reading(2))
    expect(t.out[0]).toStartWith(`ERR ${ErrCode.badJson} `)
    expect(t.metrics.decoder_exceptions).toBe(1)
    expect(t.metrics.accepted).toBe(1)
  })

  test("coalesced ACKs: one per interval, only after durability, the latest seq; a held one is sent before closing", async () => {
    const t = setup()
    t.send('{"ack":"coalesced","ms":100}\n')
    expect(t.out).toEqual(["ACKMODE coalesced ms=100\n"])
    const durable = async (seq: number) => {
      t.send(t.reading(seq))
      await t.advance(5)
      t.ingest.tick()
      t.publishes.shift()!()
      await Bun.sleep(0)
    }
    await durable(1)
    await durable(2)
    await durable(3)
    expect(t.out.slice(1)).toEqual(["ACK 1\n"])
    // ACK 1 went out at +5 ms; the held one is due one interval later (+105), now is +15.
    await t.advance(89)
    expect(t.out.slice(1)).toEqual(["ACK 1\n"])
    await t.advance(1)
    expect(t.out.slice(1)).toEqual(["ACK 1\n", "ACK 3\n"])
    await durable(4)
    t.conn.close(ErrCode.shutdown, "bye")
    expect(t.out.slice(3)).toEqual(["ACK 4\n", "ERR shutdown bye\n"])
  })

  test("ack mode none: durable readings get no ACK line, refusals still get their ERR", async () => {
    const t = setup()
    t.send('{"ack":"none"}\n' + t.reading(1) + '{"seq":2,"ts":1,"warp":1}\n')
    await t.advance(5)
    t.ingest.tick()
    t.publishes.shift()!()
    await Bun.sleep(0)
    expect(t.metrics.durable).toBe(1)
    expect(t.out.map((l) => l.split(" ")[0]!.trim())).toEqual(["ACKMODE", "ERR"])
    expect(t.metrics.ack_modes).toEqual({ none: 1 })
  })

  test("a bad ack line is refused and the mode is kept", () => {
    const t = setup()
    t.send('{"ack":"sometimes"}\n')
    expect(t.out[0]).toStartWith("ERR bad_ack_mode ")
  })
})
