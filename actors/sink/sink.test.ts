import { describe, expect, test } from "bun:test"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { loadConfig } from "../../config/index.ts"
import { FencedOut, StoreUnavailable } from "./errors.ts"
import { type Clock, TestClock } from "../../runtime/clock.ts"
import { syntheticBatches } from "../../tests/support/synthetic-batches.ts"
import { makeSink, makeSinkGroup, type SinkOptions } from "./sink.ts"
import type { InsertFormat, Store } from "./store.ts"
import { readNative, readTsv } from "../../tests/support/telemetry-bodies.ts"

const schema = loadDeviceSchema()

/** A store that records insert bodies and fails while `down` is set; binary ones only when `binaryInsert`. */
const memoryStore = (binaryInsert = false) => {
  const bodies: string[] = []
  const raw: Array<{ format: InsertFormat; body: Uint8Array }> = []
  const state = { down: false, calls: 0 }
  const store: Store = {
    kind: "chdb",
    binaryInsert,
    exec: async () => {},
    query: async () => [],
    async insert(_t, _c, format, body) {
      state.calls++
      if (state.down) throw new StoreUnavailable({ op: "insert", message: "down" })
      const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body
      raw.push({ format, body: bytes })
      bodies.push(new TextDecoder().decode(bytes))
    },
    close: async () => {},
  }
  return { store, bodies, raw, state, rows: () => bodies.join("").split("\n").filter((l) => l.length > 0) }
}

const options = (t: Clock, over: Partial<SinkOptions> = {}): SinkOptions => ({
  batchRows: 100, flushMs: 1000, maxInflight: 2, retryMinMs: 100, retryMaxMs: 1000, fence: async () => true, clock: t, ...over,
})

const batches = syntheticBatches(schema, { devices: 10, perDevice: 30, startMs: 1_795_000_000_000, intervalMs: 500, batchSize: 50 })

const feed = (sink: ReturnType<typeof makeSink>, from = 0, to = batches.length) => {
  for (let b = from; b < to; b++) {
    const batch = batches[b]!
    for (let i = 0; i < batch.ids.length; i++) sink.add(batch, i, b + 1)
    sink.processed(b + 1)
  }
}

describe("sink", () => {
  test("with the default batching, a node at 50k readings/s inserts about once a second: parts of 50k rows", async () => {
    const cfg = loadConfig({ env: {} }).sink
    const inserts: number[] = []
    const store: Store = {
      kind: "clickhouse", binaryInsert: true, exec: async () => {}, query: async () => [], close: async () => {},
      insert: async (_t, _c, _f, body) => void inserts.push(body.length),
    }
    const clock = new TestClock()
    const group = makeSinkGroup(store, schema, { ...cfg, clock })
    const shards = Array.from({ length: 8 }, (_, k) => group.sinkFor(k, async () => true))
    const batch = syntheticBatches(schema, { devices: 100, perDevice: 10, startMs: 1_795_000_000_000, intervalMs: 500, batchSize: 1000 })[0]!
    // 6 s at 50k readings/s: 50 stream batches of 1,000 a second, spread over the node's shards.
    for (let ms = 0; ms < 6000; ms += 20) {
      for (let i = 0; i < batch.ids.length; i++) shards[(ms / 20) % 8]!.add(batch, i, ms + 1)
      await clock.advance(20)
    }
    await clock.flush()
    expect(inserts.length).toBe(6)
    await group.close()
  })

  test("inserts full batches by size and the rest after flushMs; durableSeq follows", async () => {
    const m = memoryStore()
    const clock = new TestClock()
    const advance = (ms: number) => clock.advance(ms)
    const sink = makeSink(m.store, schema, options(clock))
    feed(sink, 0, 3) // 150 rows: one 100-row chunk now, 50 waiting for the timer
    await clock.flush()
    expect(m.bodies.length).toBe(1)
    // The chunk was cut at the 100th row, before batch 2 was marked processed: it covers seq 1 only.
    expect(sink.durableSeq).toBe(1)
    expect(sink.pending).toBe(50)
    // The flush timer was armed by the first row: it fires flushMs later, not before.
    await advance(999)
    expect(m.bodies.length).toBe(1)
    await advance(1)
    expect(m.rows().length).toBe(150)
    expect(sink.durableSeq).toBe(3)
    expect(sink.pending).toBe(0)
  })

  test("rows are TSV in column order with nan for fields not sent", async () => {
    const m = memoryStore()
    const clock = new TestClock()
    const sink = makeSink(m.store, schema, options(clock))
    feed(sink, 0, 6)
    await sink.flush()
    const cells = m.rows().map((r) => r.split("\t"))
    expect(cells[0]!.length).toBe(5 + schema.fields.length)
    expect(cells[0]![0]).toBe("bus-0000")
    expect(cells.some((c) => c[5 + 5] === "nan")).toBe(true)
    const b0 = batches[0]!
    expect(Number(cells[0]![5])).toBe(b0.values[0]!)
    expect(Number(cells[0]![2]) * 1000 + Number(cells[0]![3])).toBe(b0.ts[0]!)
  })

  test("an empty batch still advances durableSeq when nothing is queued", () => {
    const m = memoryStore()
    const clock = new TestClock()
    const sink = makeSink(m.store, schema, options(clock))
    sink.processed(42)
    expect(sink.durableSeq).toBe(42)
  })

  test("holds durableSeq while the store is down, retries with backoff and catches up", async () => {
    const m = memoryStore()
    const clock = new TestClock()
    const advance = (ms: number) => clock.advance(ms)
    const sink = makeSink(m.store, schema, options(clock))
    m.state.down = true
    feed(sink)
    await advance(1000)
    expect(sink.durableSeq).toBe(0)
    expect(sink.pending).toBe(300)
    for (let i = 0; i < 5; i++) await advance(1000)
    expect(sink.metrics.insertErrors).toBeGreaterThan(4)
    m.state.down = false
    for (let i = 0; i < 5 && sink.durableSeq < batches.length; i++) await advance(1000)
    expect(sink.durableSeq).toBe(batches.length)
    expect(m.rows().length).toBe(300)
    expect(sink.pending).toBe(0)
  })

  test("rows stored after an outage carry the time of the attempt that stored them in ingested, not of their first attempt", async () => {
    for (const binary of [false, true]) {
      const m = memoryStore(binary)
      const clock = new TestClock()
      const sink = makeSink(m.store, schema, options(clock))
      m.state.down = true
      feed(sink)
      await clock.advance(1000)
      for (let i = 0; i < 600; i++) await clock.advance(1000) // ten minutes down: longer than the rollup's look-back
      m.state.down = false
      const back = Math.floor(clock.now() / 1000)
      for (let i = 0; i < 5 && sink.durableSeq < batches.length; i++) await clock.advance(1000)
      expect(sink.durableSeq).toBe(batches.length)
      const rows = m.raw.flatMap((r) => (binary ? readNative(r.body, schema.fields.length) : readTsv(r.body)))
      expect(rows.length).toBe(300)
      const ingested = new Set(rows.map((r) => r[4] as number))
      expect([...ingested].every((s) => s >= back && s <= back + 5)).toBe(true)
    }
  })

  test("a failed insert is retried after retryMinMs·(½..1), the delay doubling up to retryMaxMs; close stops the retrying", async () => {
    const m = memoryStore()
    const clock = new TestClock()
    const sink = makeSink(m.store, schema, options(clock))
    m.state.down = true
    feed(sink, 0, 2) // 100 rows: one insert at once
    await clock.flush()
    expect(m.state.calls).toBe(1)
    await clock.advance(49)
    expect(m.state.calls).toBe(1)
    await clock.advance(51)
    expect(m.state.calls).toBe(2)
    // Capped at retryMaxMs (1 s): at least one attempt every second from here on, at most one per ½ s.
    const before = m.state.calls
    await clock.advance(10_000)
    expect(m.state.calls - before).toBeGreaterThanOrEqual(10)
    expect(m.state.calls - before).toBeLessThanOrEqual(20)
    expect(sink.metrics.insertErrors).toBe(m.state.calls)
    await sink.close()
    const closedAt = m.state.calls
    await clock.advance(10_000)
    expect(m.state.calls).toBe(closedAt)
    expect(clock.timers).toBe(0)
  })

  test("durableSeq never passes a chunk that is not stored, even when a later one is", async () => {
    const m = memoryStore()
    const clock = new TestClock()
    const advance = (ms: number) => clock.advance(ms)
    let failFirst = true
    const store: Store = {
      ...m.store,
      async insert(t, c, f, body) {
        if (failFirst) {
          failFirst = false
          throw new StoreUnavailable({ op: "insert", message: "once" })
        }
        return m.store.insert(t, c, f, body)
      },
    }
    const sink = makeSink(store, schema, options(clock))
    feed(sink, 0, 4) // chunks of 100 rows: #1 fails once, #2 succeeds
    await clock.flush()
    expect(m.bodies.length).toBe(1)
    expect(sink.durableSeq).toBe(0)
    await advance(1000)
    expect(sink.durableSeq).toBe(4)
  })

  test("a fenced-out owner's batch is refused, not inserted, and flush rejects", async () => {
    const m = memoryStore()
    const clock = new TestClock()
    let token = 7
    const sink = makeSink(m.store, schema, options(clock, { fence: async () => token === 7 }))
    feed(sink, 0, 2)
    await clock.flush()
    expect(m.rows().length).toBe(100)
    token = 8 // the lease moved: this node's token is stale
    feed(sink, 2, 4)
    const err = await sink.flush().then(() => undefined, (e) => e)
    expect(err).toBeInstanceOf(FencedOut)
    expect(m.rows().length).toBe(100)
    expect(sink.fenced).toBe(true)
    expect(sink.metrics.rowsFenced).toBe(100)
    expect(sink.durableSeq).toBe(2)
    feed(sink, 4, 5)
    expect(sink.metrics.rowsRefusedClosed).toBe(50)
  })

  test("copies missing fields as NaN when a batch is narrower than the schema", async () => {
    const m = memoryStore()
    const clock = new TestClock()
    const sink = makeSink(m.store, schema, options(clock))
    const b = batches[0]!
    const narrow = { ...b, width: 2, values: new Float64Array(b.ids.length * 2).fill(1.5) }
    sink.add(narrow, 0, 1)
    await sink.flush()
    const cells = m.rows()[0]!.split("\t")
    expect(cells.slice(5, 8)).toEqual(["1.5", "1.5", "nan"])
    expect(sink.metrics.widthMismatch).toBe(1)
  })

  test("refuses and counts readings whose time or seq cannot be stored, keeping the rest", async () => {
    const m = memoryStore()
    const clock = new TestClock()
    const sink = makeSink(m.store, schema, options(clock))
    const b = batches[0]!
    const ts = b.ts.slice()
    const seqs = b.seqs.slice()
    ts[0] = 5_000 // a device clock reset to 1970
    ts[1] = Number.NaN
    seqs[2] = -1
    const odd = { ...b, ts, seqs }
    for (let i = 0; i < b.ids.length; i++) sink.add(odd, i, 1)
    sink.processed(1)
    await sink.flush()
    expect(sink.metrics.rowsBadTime).toBe(3)
    expect(m.rows().length).toBe(b.ids.length - 3)
    expect(sink.durableSeq).toBe(1)
  })

  test("a group puts several shards' rows into one insert and fences each shard on its own", async () => {
    const m = memoryStore()
    const clock = new TestClock()
    const advance = (ms: number) => clock.advance(ms)
    const group = makeSinkGroup(m.store, schema, options(clock, { batchRows: 1000 }))
    let shard2Owned = true
    const a = group.sinkFor(1, async () => true)
    const b = group.sinkFor(2, async () => shard2Owned)
    const half = (sink: typeof a, from: number, to: number) => {
      for (let k = from; k < to; k++) {
        const batch = batches[k]!
        for (let i = 0; i < batch.ids.length; i++) sink.add(batch, i, k + 1)
        sink.processed(k + 1)
      }
    }
    half(a, 0, 2)
    half(b, 2, 4)
    await advance(1000)
    expect(m.bodies.length).toBe(1) // one insert for both shards
    expect(m.rows().length).toBe(200)
    expect([a.durableSeq, b.durableSeq]).toEqual([2, 4])
    shard2Owned = false
    half(a, 4, 5)
    half(b, 5, 6)
    await advance(1000)
    expect(m.rows().length).toBe(250)
    expect(a.durableSeq).toBe(5)
    expect(b.fenced).toBe(true)
    expect(b.durableSeq).toBe(4)
    expect(b.metrics.rowsFenced).toBe(50)
    expect(group.metrics.inserts).toBe(2)
    await group.close()
  })

  test("a store taking binary bodies gets Native with the same rows, refusals and NaN padding as TSV", async () => {
    const clock = new TestClock()
    const b = batches[0]!
    const ts = b.ts.slice()
    ts[3] = 5_000 // refused: 1970
    const narrow = { ...b, ts, width: 2, values: new Float64Array(b.ids.length * 2).fill(-0) }
    const wide = { ...b, width: schema.fields.length + 3, values: new Float64Array(b.ids.length * (schema.fields.length + 3)).fill(2.5) }
    const run = async (binary: boolean) => {
      const m = memoryStore(binary)
      const sink = makeSink(m.store, schema, options(clock))
      for (const x of [b, narrow, wide]) for (let i = 0; i < 10; i++) sink.add(x, i, 1)
      await sink.flush()
      return { m, metrics: { ...sink.metrics } }
    }
    const [tsv, bin] = [await run(false), await run(true)]
    expect(tsv.m.raw.map((r) => r.format)).toEqual(["TabSeparated"])
    expect(bin.m.raw.map((r) => r.format)).toEqual(["Native"])
    const rows = readNative(bin.m.raw[0]!.body, schema.fields.length)
    expect(rows.length).toBe(29)
    expect(rows).toEqual(readTsv(tsv.m.raw[0]!.body))
    expect(rows[10]!.slice(5, 8)).toEqual([-0, -0, NaN])
    expect(Object.is(rows[10]![5], -0)).toBe(true)
    expect(rows[20]!.slice(5).every((x) => x === 2.5)).toBe(true)
    expect({ ...bin.metrics, bytesInserted: 0 }).toEqual({ ...tsv.metrics, bytesInserted: 0 })
    expect([bin.metrics.rowsBadTime, bin.metrics.widthMismatch]).toEqual([1, 19])
  })
})
