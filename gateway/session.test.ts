import { describe, expect, test } from "bun:test"
import { TestClock } from "../runtime/clock.ts"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { bootOf, decodeBatch, noBoot } from "../runtime/batch.ts"
import { ErrCode } from "./codes.ts"
import { DeviceConnection, type ConnectionContext } from "./connection.ts"
import { pack } from "msgpackr"
import { csvLine, jsonLine, msgpackFrame } from "./encode.ts"
import { frameMsgpack } from "./framer.ts"
import { Ingest } from "./ingest.ts"
import { newMetrics } from "./metrics.ts"
import { isHelloFrame, NumberingGuard, parseHello } from "./session.ts"

const schema = loadDeviceSchema()
const row = Float64Array.from(schema.fields, (f) => f.min)
const enc = new TextEncoder()

/** A connection whose published batches are decoded back to (boot/seq) strings. */
const setup = () => {
  const out: string[] = []
  const clock = new TestClock(1_700_000_000_000)
  const metrics = newMetrics()
  const published: string[] = []
  const ingest = new Ingest({
    partitions: 8, width: schema.fields.length, schemaVersion: 1, flushBytes: 1 << 20, flushMs: 5, maxBufferedReadings: 1e6,
    maxInFlight: 8, instanceId: "t", metrics, clock, onPressure: () => {},
    publish: (_shard, bytes) => {
      const b = decodeBatch(bytes)
      for (let i = 0; i < b.ids.length; i++) published.push(`${bootOf(b, i)}/${b.seqs[i]}`)
      return Promise.resolve()
    },
  })
  const ctx: ConnectionContext = {
    schema, ingest, metrics, clock, log: () => {}, partitionsShard: () => 3,
    limits: { maxFrameBytes: 4096, maxErrors: 50, maxReadingsPerSec: 1e6, maxFutureSkewMs: 60_000, maxPastSkewMs: 600_000 },
  }
  const conn = new DeviceConnection("bus-0001", "127.0.0.1", ctx, { write: (t) => out.push(t), throttle: () => {}, close: () => {} })
  const send = (s: string | Uint8Array) => conn.onData(typeof s === "string" ? enc.encode(s) : s)
  const flush = async () => {
    await clock.advance(10)
    ingest.tick()
    await Bun.sleep(0)
  }
  return { out, metrics, published, send, flush, at: (dt: number) => clock.now() + dt }
}

describe("hello line", () => {
  test("is told apart from a reading by its first key only", () => {
    expect(isHelloFrame(enc.encode(`{"hello":{"boot":1}}`))).toBe(true)
    expect(isHelloFrame(enc.encode(`{ "hello":{"boot":1}}`))).toBe(true)
    expect(isHelloFrame(enc.encode(`{"seq":1,"hello":2}`))).toBe(false)
    expect(isHelloFrame(enc.encode(`{"hell`))).toBe(false)
  })

  test.each([
    [`{"hello":{"boot":0}}`, 0],
    [`{"hello":{"boot":9007199254740991}}`, 2 ** 53 - 1],
  ])("%s declares boot %d", (line, boot) => {
    expect(parseHello(enc.encode(line))).toEqual({ boot })
  })

  test.each([`{"hello":{}}`, `{"hello":{"boot":-1}}`, `{"hello":{"boot":1.5}}`, `{"hello":{"boot":"7"}}`, `{"hello":{"boot":9007199254740992}}`, `{"hello":`])(
    "%s is refused with bad_hello", (line) => {
      expect(parseHello(enc.encode(line))).toMatchObject({ code: ErrCode.badHello })
    },
  )
})

describe("NumberingGuard", () => {
  test("accepts increasing seqs, a restarted count with a later ts, and anything after a new boot", () => {
    const g = new NumberingGuard()
    expect([g.check(1, 10), g.check(2, 20), g.check(1, 30), g.check(1, 30)].map((r) => r?.code)).toEqual([undefined, undefined, undefined, ErrCode.seqRegress])
    g.setBoot(5)
    expect(g.check(1, 5)).toBeUndefined()
  })
})

describe("DeviceConnection with boots", () => {
  test("a hello answers HELLO and stamps its boot on the readings after it, in all three formats", async () => {
    const t = setup()
    t.send(jsonLine(schema, "bus-0001", 1, t.at(0), row))
    t.send(`{"hello":{"boot":42}}\n`)
    t.send(jsonLine(schema, "bus-0001", 1, t.at(1), row))
    t.send(csvLine("bus-0001", 2, t.at(2), row, schema.fields.length))
    t.send(frameMsgpack(pack({ seq: 3, ts: t.at(3), speed_kmh: 1 })))
    t.send(msgpackFrame("bus-0001", 4, t.at(4), row, schema.fields.length))
    await t.flush()
    expect(t.out).toEqual(["HELLO v=2 boot=42\n", "ACK 4\n"])
    expect(t.published).toEqual([`${noBoot}/1`, "42/1", "42/2", "42/3", "42/4"])
    expect(t.metrics.hellos).toBe(1)
  })

  test("a seq that goes back on the same connection without a later ts is refused with seq_regress, and counted", async () => {
    const t = setup()
    t.send(jsonLine(schema, "bus-0001", 1, t.at(0), row) + jsonLine(schema, "bus-0001", 2, t.at(1), row))
    t.send(jsonLine(schema, "bus-0001", 1, t.at(0), row)) // same connection, not later: refused
    t.send(jsonLine(schema, "bus-0001", 1, t.at(5), row)) // a restarted count (later ts): accepted
    await t.flush()
    expect(t.out[0]).toStartWith(`ERR ${ErrCode.seqRegress} seq=1 `)
    expect(t.out[0]).toContain(`{"hello":{"boot":`)
    expect(t.out.slice(1)).toEqual(["ACK 1\n"])
    expect(t.published).toEqual([`${noBoot}/1`, `${noBoot}/2`, `${noBoot}/1`])
    expect(t.metrics.rejected_by_code).toEqual({ seq_regress: 1 })
  })

  test("a bad hello is refused with bad_hello and the connection keeps its boot", async () => {
    const t = setup()
    t.send(`{"hello":{"boot":3}}\n{"hello":{"boot":-3}}\n`)
    t.send(jsonLine(schema, "bus-0001", 1, t.at(0), row))
    await t.flush()
    expect(t.out[1]).toStartWith(`ERR ${ErrCode.badHello} `)
    expect(t.published).toEqual(["3/1"])
  })
})
