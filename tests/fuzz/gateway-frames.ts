/**
 * Property-based fuzzing of the gateway's byte path: the framer and the three decoders (JSON
 * lines, CSV lines, msgpack) behind a real {@link DeviceConnection} and {@link Ingest}.
 *
 * A generated stream mixes valid readings with hostile frames (huge ints, uint64/int64 msgpack,
 * deep nesting, truncated frames, invalid UTF-8, wrong CSV column counts, bad timestamps,
 * oversized lines, random bytes, random msgpack values) and is fed in random chunks. Checked for
 * every stream: no exception escapes; every frame gets exactly one answer, in order (accepted, or
 * one `ERR` with a code); a frame whose verdict is known gets that verdict; every refusal is counted
 * in `metrics.rejected_by_code`; no decoder ever throws (`decoder_exceptions` stays 0); after the
 * stream a valid reading is still accepted (the connection is never wedged).
 *
 * `bun tests/fuzz/gateway-frames.ts [frames]` runs at least `frames` frames (default 1,000,000)
 * and prints the totals; gateway-frames.test.ts runs a smaller sample in the suite.
 */
import { TestClock } from "../../runtime/clock.ts"
import fc from "fast-check"
import { pack } from "msgpackr"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { DeviceConnection, type ConnectionContext } from "../../gateway/connection.ts"
import { csvLine, jsonLine } from "../../gateway/encode.ts"
import { Framer, frameMsgpack, type FrameSink } from "../../gateway/framer.ts"
import { Ingest } from "../../gateway/ingest.ts"
import { newMetrics, type GatewayMetrics } from "../../gateway/metrics.ts"
import { RateBudgets } from "../../gateway/rate.ts"

const schema = loadDeviceSchema()
const W = schema.fields.length
const NOW = 1_700_000_000_000
const MAX_FRAME = 4096
const DEVICE = "bus-0001"
const enc = new TextEncoder()

/** What a frame must get: "ok", one of some codes, or anything (but exactly one answer). */
type Verdict = "ok" | ReadonlyArray<string> | "any"
interface Frame {
  readonly bytes: Uint8Array
  readonly want: Verdict
  readonly tag: string
  /**
   * Valid readings: the bytes again with the stream's next seq and ts, so a stream's valid readings
   * number upwards as a device's do (`bytes` holds a random seq, for the truncated variants).
   */
  readonly build?: (seq: number, ts: number) => Uint8Array
}

const rows: Float64Array[] = [
  Float64Array.from(schema.fields, (f) => f.min),
  Float64Array.from(schema.fields, (f) => f.max),
  Float64Array.from(schema.fields, (f) => (f.kind === "float" ? (f.min + f.max) / 2 : f.min)),
  Float64Array.from(schema.fields, (f, i) => (i % 3 === 0 ? NaN : f.min)),
]

const line = (s: string | Uint8Array): Uint8Array => {
  const b = typeof s === "string" ? enc.encode(s) : s
  const out = new Uint8Array(b.length + 1)
  out.set(b)
  out[b.length] = 0x0a
  return out
}
const strip = (s: string) => (s.endsWith("\n") ? s.slice(0, -1) : s)
const u64 = (hi: number, lo: number) => [0xcf, (hi >>> 24) & 255, (hi >>> 16) & 255, (hi >>> 8) & 255, hi & 255, (lo >>> 24) & 255, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255]
const i64 = (hi: number, lo: number) => [0xd3, ...u64(hi, lo).slice(1)]
const str = (s: string) => {
  const b = enc.encode(s)
  return [0xa0 | b.length, ...b]
}
const f64 = (v: number) => {
  const b = new Uint8Array(9)
  b[0] = 0xcb
  new DataView(b.buffer).setFloat64(1, v)
  return [...b]
}

const seqArb = fc.integer({ min: 0, max: 2 ** 40 })
const tsArb = fc.integer({ min: NOW - 60_000, max: NOW + 60_000 })
const rowArb = fc.nat({ max: rows.length - 1 }).map((i) => rows[i]!)
const devArb = fc.constantFrom(DEVICE, "")

const withBuild = (tag: string, q: number, t: number, build: (seq: number, ts: number) => Uint8Array): Frame => ({ tag, want: "ok", bytes: build(q, t), build })
const valid: fc.Arbitrary<Frame> = fc.oneof(
  fc.tuple(seqArb, tsArb, rowArb, devArb).map(([q, t, r, d]) => withBuild("json", q, t, (q, t) => enc.encode(d ? jsonLine(schema, d, q, t, r) : jsonLine(schema, DEVICE, q, t, r).replace(`"device":"${DEVICE}",`, "")))),
  fc.tuple(seqArb, tsArb, rowArb, devArb).map(([q, t, r, d]) => withBuild("csv", q, t, (q, t) => enc.encode(csvLine(d, q, t, r, W)))),
  fc.tuple(seqArb, tsArb, rowArb).map(([q, t, r]) => withBuild("msgpack-array", q, t, (q, t) => frameMsgpack(pack([DEVICE, q, t, Array.from(r, (v) => (Number.isNaN(v) ? null : v))])))),
  fc.tuple(seqArb, tsArb).map(([q, t]) => withBuild("msgpack-map", q, t, (q, t) => frameMsgpack(pack({ seq: q, ts: t, speed_kmh: 12.5, door_front_open: true })))),
)

/** 2^53 ≤ v < 2^64 as (hi, lo) words. */
const hugeU64 = fc.tuple(fc.integer({ min: 0x200000, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }))
const hugeDigits = fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 16, max: 400 })).map(([d, n]) => `${d}${"7".repeat(n)}`)

const hostile: fc.Arbitrary<Frame> = fc.oneof(
  // Huge integers.
  hugeDigits.map((n) => ({ tag: "json-huge-seq", want: ["bad_seq"], bytes: enc.encode(`{"seq":${n},"ts":${NOW}}`) })),
  hugeDigits.map((n) => ({ tag: "csv-huge-seq", want: ["bad_seq"], bytes: enc.encode(`${DEVICE},${n},${NOW}${",".repeat(W)}`) })),
  hugeDigits.map((n) => ({ tag: "json-huge-value", want: ["out_of_range", "bad_value"], bytes: enc.encode(`{"seq":1,"ts":${NOW},"engine_rpm":${n}}`) })),
  hugeU64.map(([h, l]) => ({ tag: "msgpack-u64-seq", want: ["bad_seq"], bytes: frameMsgpack(new Uint8Array([0x94, 0xc0, ...u64(h, l), 0xcb, ...f64(NOW).slice(1), 0x90])) })),
  hugeU64.map(([h, l]) => ({ tag: "msgpack-u64-seq-map", want: ["bad_seq"], bytes: frameMsgpack(new Uint8Array([0x82, ...str("seq"), ...u64(h, l), ...str("ts"), ...f64(NOW)])) })),
  hugeU64.map(([h, l]) => ({ tag: "msgpack-i64-ts", want: ["bad_ts", "ts_skew"], bytes: frameMsgpack(new Uint8Array([0x82, ...str("seq"), 0x01, ...str("ts"), ...i64(h | 0x80000000, l)])) })),
  hugeU64.map(([h, l]) => ({ tag: "msgpack-u64-value", want: ["bad_value", "out_of_range"], bytes: frameMsgpack(new Uint8Array([0x83, ...str("seq"), 0x01, ...str("ts"), ...f64(NOW), ...str("engine_rpm"), ...u64(h, l)])) })),
  // Deep nesting.
  fc.integer({ min: 1, max: 2000 }).map((d) => ({ tag: "json-deep", want: ["bad_value", "bad_json"], bytes: enc.encode(`{"seq":1,"ts":${NOW},"speed_kmh":${"[".repeat(d)}${"]".repeat(d)}}`) })),
  fc.integer({ min: 1, max: 4000 }).map((d) => ({ tag: "json-deep-top", want: ["bad_json"], bytes: enc.encode(`{${"[".repeat(d)}`) })),
  fc.integer({ min: 1, max: 4000 }).map((d) => ({ tag: "msgpack-deep", want: ["bad_msgpack"], bytes: frameMsgpack(new Uint8Array([...new Array(d).fill(0x91), 0x01])) })),
  fc.integer({ min: 1, max: 4000 }).map((d) => ({ tag: "msgpack-deep-value", want: ["bad_value", "bad_msgpack"], bytes: frameMsgpack(new Uint8Array([0x83, ...str("seq"), 0x01, ...str("ts"), ...f64(NOW), ...str("engine_rpm"), ...new Array(d).fill(0x91), 0x01])) })),
  // Truncated frames (framing intact, content cut).
  fc.tuple(valid, fc.double({ min: 0, max: 1, noNaN: true })).map(([f, at]) => {
    if (f.bytes[0] === 0) {
      const payload = f.bytes.subarray(4)
      const cut = 1 + Math.floor(at * (payload.length - 2))
      return { tag: `truncated-${f.tag}`, want: ["bad_msgpack"], bytes: frameMsgpack(payload.slice(0, cut)) }
    }
    // A cut that leaves a valid reading is accepted: it is numbered in the stream like the
    // others (build), or a later frame would repeat its seq and be refused seq_regress.
    const cut = (bytes: Uint8Array) => {
      const text = strip(new TextDecoder().decode(bytes))
      return enc.encode(text.slice(0, 1 + Math.floor(at * (text.length - 2))))
    }
    const build = f.build
    return { tag: `truncated-${f.tag}`, want: "any" as const, bytes: cut(f.bytes), ...(build ? { build: (q: number, t: number) => cut(build(q, t)) } : {}) }
  }),
  // Invalid UTF-8.
  fc.tuple(fc.constantFrom([0xff], [0xfe, 0xff], [0xc0, 0x80], [0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]), fc.boolean()).map(([bad, json]) => ({
    tag: json ? "json-bad-utf8" : "csv-bad-utf8",
    want: ["bad_utf8"],
    bytes: json
      ? new Uint8Array([...enc.encode('{"device":"bus'), ...bad, ...enc.encode(`","seq":1,"ts":${NOW}}`)])
      : new Uint8Array([...enc.encode("bus"), ...bad, ...enc.encode(`,1,${NOW}${",".repeat(W)}`)]),
  })),
  // Wrong column counts.
  fc.integer({ min: 0, max: 200 }).filter((n) => n !== W + 2).map((commas) => ({ tag: "csv-columns", want: ["bad_csv"], bytes: enc.encode(`${DEVICE},1,${NOW}`.split(",").concat(new Array(Math.max(0, commas - 1)).fill("1")).slice(0, commas + 1).join(",")) })),
  // Bad timestamps.
  fc.constantFrom('"soon"', "null", "-1e308", "1e308", "true", "[]", "{}", "1.5e400").map((t) => ({ tag: "json-bad-ts", want: ["bad_ts", "ts_skew", "bad_json"], bytes: enc.encode(`{"seq":1,"ts":${t}}`) })),
  fc.oneof(fc.integer({ min: -(2 ** 52), max: NOW - 120_000 }), fc.integer({ min: NOW + 120_000, max: 2 ** 52 })).map((t) => ({ tag: "csv-skew-ts", want: ["ts_skew"], bytes: enc.encode(`${DEVICE},1,${t}${",".repeat(W)}`) })),
  fc.constantFrom("soon", "0x10", "1e", "--1", " ", "NaN", "Infinity").map((t) => ({ tag: "csv-bad-ts", want: ["bad_ts"], bytes: enc.encode(`${DEVICE},1,${t}${",".repeat(W)}`) })),
  // Oversized.
  fc.integer({ min: MAX_FRAME + 1, max: MAX_FRAME * 3 }).map((n) => ({ tag: "oversized-line", want: ["too_large"], bytes: enc.encode(`{${"x".repeat(n)}`) })),
  fc.integer({ min: MAX_FRAME + 1, max: MAX_FRAME * 3 }).map((n) => ({ tag: "oversized-msgpack", want: ["too_large"], bytes: frameMsgpack(new Uint8Array(n)) })),
  // Anything at all.
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => b.map((x) => (x === 0x0a ? 0x20 : x))).filter((b) => b[0] !== 0 && !(b.length === 1 && b[0] === 0x0d)).map((b) => ({ tag: "random-line", want: "any" as const, bytes: b })),
  fc.uint8Array({ minLength: 0, maxLength: 300 }).map((b) => ({ tag: "random-msgpack", want: "any" as const, bytes: frameMsgpack(b) })),
  fc.json({ maxDepth: 4 }).filter((j) => j.startsWith("{")).map((j) => ({ tag: "random-json", want: "any" as const, bytes: enc.encode(j) })),
  fc.anything({ maxDepth: 3, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true })
    .map((v) => {
      try {
        return { tag: "random-msgpack-value", want: "any" as const, bytes: frameMsgpack(pack(v)) }
      } catch {
        return { tag: "random-msgpack-value", want: "any" as const, bytes: frameMsgpack(pack(null)) }
      }
    }),
)

/** A frame as written on the wire (text frames get their newline, sometimes `\r\n`). */
const wire = (f: Frame, crlf: boolean): Uint8Array => (f.bytes[0] === 0 ? f.bytes : line(crlf && f.bytes.at(-1) !== 0x0d ? new Uint8Array([...f.bytes, 0x0d]) : f.bytes))

export const streamArb = fc.record({
  frames: fc.array(fc.oneof({ weight: 2, arbitrary: valid }, { weight: 5, arbitrary: hostile }), { minLength: 1, maxLength: 60 }),
  chunks: fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 8 }),
  crlf: fc.boolean(),
})

/** A connection wired to an in-memory ingest whose publishes are acknowledged at once. */
const harness = () => {
  const metrics = newMetrics()
  const answers: string[] = []
  // Never advanced: the fuzz run is about frames, not time.
  const clock = new TestClock(NOW)
  const ingest = new Ingest({
    partitions: 8, width: W, schemaVersion: 1, flushBytes: 1 << 20, flushMs: 5, maxBufferedReadings: 1e9, maxInFlight: 8, instanceId: "fuzz",
    metrics, clock, onPressure: () => {}, publish: () => Promise.resolve(undefined),
  })
  const add = ingest.add.bind(ingest)
  ingest.add = (...a: Parameters<typeof add>) => {
    answers.push("ok")
    return add(...a)
  }
  const ctx: ConnectionContext = {
    schema, ingest, metrics, clock, log: () => {}, partitionsShard: () => 1, budgets: new RateBudgets(1e12),
    limits: { maxFrameBytes: MAX_FRAME, maxErrors: 1e12, maxReadingsPerSec: 1e12, maxFutureSkewMs: 60_000, maxPastSkewMs: 60_000 },
  }
  const conn = new DeviceConnection(DEVICE, "fuzz", ctx, {
    write: (t) => {
      // ERR <code> refuses a frame; ACKMODE / HELLO answer a control line (ACK lines come later, per batch).
      for (const l of t.split("\n")) if (l.startsWith("ERR ") || l.startsWith("ACKMODE ") || l.startsWith("HELLO ")) answers.push(l.split(" ")[l.startsWith("ERR ") ? 1 : 0]!)
    },
    throttle: () => {
      throw new Error("throttled in the fuzz run")
    },
    close: () => {},
  })
  return { metrics, answers, conn }
}

const sumCodes = (m: GatewayMetrics) => Object.values(m.rejected_by_code).reduce((a, b) => a + b, 0)

/** Checks one stream; throws with a description on the first violation. Returns the frames fed. */
export const checkStream = ({ frames, chunks, crlf }: { frames: Frame[]; chunks: number[]; crlf: boolean }): number => {
  let n = 0
  const renumber = (f: Frame): Frame => (f.build ? { ...f, bytes: f.build(++n, NOW - 50_000 + n) } : f)
  const numbered = frames.map(renumber)
  const all = [...numbered, renumber(withBuild("final", 0, NOW, (q, t) => enc.encode(jsonLine(schema, DEVICE, q, t, rows[0]!))))]
  const parts = all.map((f) => wire(f, crlf))
  const stream = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    stream.set(p, o)
    o += p.length
  }
  const h = harness()
  let pos = 0
  for (let i = 0; pos < stream.length; i++) {
    const n = chunks[i % chunks.length]!
    h.conn.onData(stream.subarray(pos, pos + n))
    pos += n
  }
  if (h.metrics.decoder_exceptions !== 0) throw new Error(`a decoder threw (${h.metrics.decoder_exceptions})`)
  if (h.answers.length !== all.length) throw new Error(`${all.length} frames got ${h.answers.length} answers: ${JSON.stringify(h.answers.slice(-5))} for ${all.map((f) => f.tag).join(",")}`)
  for (let i = 0; i < all.length; i++) {
    const f = all[i]!
    const got = h.answers[i]!
    const ok = f.want === "any" || (f.want === "ok" ? got === "ok" : f.want.includes(got))
    if (!ok) throw new Error(`frame ${i} (${f.tag}) wanted ${JSON.stringify(f.want)}, got ${got}: ${JSON.stringify(new TextDecoder().decode(f.bytes.subarray(0, 120)))}`)
  }
  const refused = h.answers.filter((a) => a !== "ok").length
  if (sumCodes(h.metrics) !== refused) throw new Error(`${refused} refusals but ${sumCodes(h.metrics)} counted`)
  if (h.metrics.accepted !== all.length - refused) throw new Error(`accepted ${h.metrics.accepted}, expected ${all.length - refused}`)
  return all.length
}

/** The framer alone on arbitrary bytes: any chunking yields the same frames as one feed, nothing throws. */
const framerByte = fc.oneof({ weight: 1, arbitrary: fc.constantFrom(0x0a, 0x0d, 0x00, 0x7b, 0x2c) }, { weight: 6, arbitrary: fc.integer({ min: 0, max: 255 }) })
export const framerArb = fc.record({ bytes: fc.array(framerByte, { maxLength: 2000 }).map((a) => Uint8Array.from(a)), cuts: fc.array(fc.nat({ max: 2000 }), { maxLength: 10 }) })
export const checkFramer = ({ bytes, cuts }: { bytes: Uint8Array; cuts: number[] }): number => {
  const run = (pieces: Uint8Array[]) => {
    const out: string[] = []
    const sink: FrameSink = {
      frame: (k, b) => {
        out.push(`${k}:${Buffer.from(b).toString("hex")}`)
      },
      oversized: (n) => {
        out.push(`big`)
        void n
      },
    }
    const f = new Framer(256)
    for (const p of pieces) f.feed(p, sink)
    return { out, buffered: f.buffered }
  }
  const whole = run([bytes])
  const points = [...new Set(cuts.map((c) => Math.min(c, bytes.length)))].sort((a, b) => a - b)
  const pieces: Uint8Array[] = []
  let prev = 0
  for (const c of [...points, bytes.length]) {
    pieces.push(bytes.slice(prev, c))
    prev = c
  }
  const split = run(pieces)
  // Oversized lines are reported when first seen, which depends on chunking; frames do not.
  const frames = (o: string[]) => o.filter((x) => x !== "big")
  if (JSON.stringify(frames(whole.out)) !== JSON.stringify(frames(split.out))) throw new Error("chunking changed the frames")
  return whole.out.length
}

/** Runs both properties until at least `target` frames were checked; returns the totals. */
export const fuzz = (target: number, seed?: number) => {
  let frames = 0
  let framerFrames = 0
  let runs = 0
  const t0 = performance.now()
  while (frames + framerFrames < target) {
    fc.assert(fc.property(streamArb, (s) => {
      frames += checkStream(s)
    }), { numRuns: 500, seed: seed === undefined ? undefined : seed + runs })
    fc.assert(fc.property(framerArb, (s) => {
      framerFrames += checkFramer(s)
    }), { numRuns: 200, seed: seed === undefined ? undefined : seed + runs })
    runs++
  }
  return { frames, framerFrames, total: frames + framerFrames, seconds: (performance.now() - t0) / 1000 }
}

if (import.meta.main) {
  const target = Number(process.argv[2] ?? 1_000_000)
  const r = fuzz(target)
  console.log(`fuzzed ${r.total} frames (${r.frames} through framer + decoders + connection, ${r.framerFrames} through the framer alone on random bytes) in ${r.seconds.toFixed(1)} s: no exception, one answer per frame, every refusal counted`)
}
