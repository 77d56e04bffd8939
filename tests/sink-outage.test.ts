/**
 * ClickHouse stopped under load: the sink holds durableSeq, keeps memory bounded (the host pauses
 * intake on `pending`), retries, and catches up by itself; no reading is lost or shown twice.
 */
import { afterAll, expect, test } from "bun:test"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { makeClickHouseStore, makeSink, migrate, readings, type Store } from "../actors/sink/index.ts"
import { syntheticBatches } from "./support/synthetic-batches.ts"
import { startClickHouse, waitFor, type ClickHouseServer } from "./harness/index.ts"

const schema = loadDeviceSchema()
let ch: ClickHouseServer | undefined
let store: Store | undefined

afterAll(async () => {
  await store?.close()
  await ch?.cleanup()
})

test("ClickHouse down for 4 s under load: no loss, no duplicates, bounded, catches up", async () => {
  ch = await startClickHouse()
  store = makeClickHouseStore({ url: ch.url, requestTimeoutMs: 5000 })
  await migrate(store, schema)
  const start = Date.UTC(2026, 10, 21, 8, 0, 0)
  const devices = 50
  const perDevice = 1000
  const batches = syntheticBatches(schema, { devices, perDevice, startMs: start, intervalMs: 500, batchSize: 100 })
  const bound = 5_000
  const sink = makeSink(store, schema, { maxPendingRows: bound, batchRows: 1000, flushMs: 100, maxInflight: 2, retryMinMs: 50, retryMaxMs: 500, fence: async () => true })
  let maxPending = 0

  // The shard host: one stream batch at a time, paced like live load (10k readings/s), pausing intake above the bound.
  const host = (async () => {
    for (let k = 0; k < batches.length; k++) {
      if (sink.full) await waitFor("sink below its bound", () => !sink.full, { timeoutMs: 60_000, intervalMs: 20 })
      const b = batches[k]!
      for (let i = 0; i < b.ids.length; i++) sink.add(b, i, k + 1)
      sink.processed(k + 1)
      maxPending = Math.max(maxPending, sink.pending)
      await Bun.sleep(10) // load pacing, not synchronisation
    }
  })()

  await waitFor("some rows durable", () => sink.durableSeq >= 20, { timeoutMs: 20_000 })
  await ch.stop(true) // SIGKILL: the harshest stop, and immediate
  const frozen = sink.durableSeq
  await Bun.sleep(4000) // the outage itself
  expect(sink.durableSeq).toBe(frozen) // the checkpoint would be held here
  expect(sink.metrics.insertErrors).toBeGreaterThan(0)
  expect(sink.pending).toBeLessThanOrEqual(bound + 100)
  await ch.start()
  await host
  await waitFor("sink caught up", () => sink.durableSeq === batches.length, { timeoutMs: 30_000 })
  expect(maxPending).toBeLessThanOrEqual(bound + 100)
  expect(sink.pending).toBe(0)

  const [c] = await store.query<{ c: number; d: number }>(
    "SELECT count() AS c, uniqExact(device_id, seq) AS d FROM telemetry FINAL",
  )
  expect(c).toEqual({ c: devices * perDevice, d: devices * perDevice })
  for (const device of ["bus-0000", "bus-0049"]) {
    const r = await readings(store, schema, { device, from: start, to: start + perDevice * 500, fields: ["speed_kmh"] })
    expect(r.t.length).toBe(perDevice)
  }
  await sink.close()
}, 60_000)
