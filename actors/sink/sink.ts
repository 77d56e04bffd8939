import type { DeviceSchema } from "../../config/device-schema.ts"
import type { ReadingBatch } from "../../runtime/batch.ts"
import type { SinkPort } from "../../runtime/sink-port.ts"
import { FencedOut, SinkClosed } from "./errors.ts"
import { systemTimers, type Timers } from "./internal/system-timers.ts"
import type { Store } from "./store.ts"
import { tables, telemetryColumns } from "./tables.ts"
import { escapeTsv, TsvWriter } from "./tsv.ts"

/** Batching, retry and fencing options of {@link makeSink} (config section `sink`). */
export interface SinkOptions {
  /** Insert when this many rows are queued. */
  readonly batchRows: number
  /** …or this long after the first row of a batch was queued. */
  readonly flushMs: number
  /** Concurrent inserts; `durableSeq` still advances strictly in order. */
  readonly maxInflight: number
  readonly retryMinMs: number
  readonly retryMaxMs: number
  /**
   * Fencing check run before every insert attempt: resolves true while this node still holds the
   * shard's lease (its token is current). False refuses the batch and every later one.
   */
  readonly fence: () => Promise<boolean>
  /** Called on every failed insert attempt (logging); the sink retries by itself. */
  readonly onError?: ((e: unknown, attempt: number) => void) | undefined
  readonly timers?: Timers | undefined
}

/** Counters of a sink (the lead wires them to Prometheus). */
export interface SinkMetrics {
  rowsAdded: number
  rowsInserted: number
  inserts: number
  insertErrors: number
  bytesInserted: number
  /** Rows refused because the fencing check failed (a deposed owner's batches). */
  rowsFenced: number
  /** Rows offered after close or fencing (not stored; the stream still has them). */
  rowsRefusedClosed: number
  /**
   * Readings not stored because their event time or seq cannot be a DateTime/UInt64 row
   * (before 2001-09-09 or after 2106, negative or non-integer seq); counted, never retried.
   */
  rowsBadTime: number
  /** Readings whose width differed from the schema (missing fields stored as NaN, extra ignored). */
  widthMismatch: number
}

/** A per-shard ClickHouse sink: the {@link SinkPort} plus counters and fencing state. */
export interface Sink extends SinkPort {
  readonly metrics: Readonly<SinkMetrics>
  /** True once the fencing check refused a batch; the sink then takes nothing more. */
  readonly fenced: boolean
}

/** Event times a row may have, epoch ms: DateTime as 10-digit seconds (2001-09-09 … 2106-02-07). */
export const minTs = 1_000_000_000_000
export const maxTs = 4_294_967_296_000

interface Chunk {
  readonly body: Uint8Array
  readonly rows: number
  /** Every row from stream seq ≤ cover is in this chunk or an earlier one. */
  readonly cover: number
  started: boolean
  done: boolean
}

interface Waiter {
  readonly chunk: Chunk
  readonly resolve: () => void
  readonly reject: (e: unknown) => void
}

/**
 * Makes the sink for one shard. Rows are copied into preallocated columns (no per-row objects),
 * cut into a TabSeparated body when `batchRows` are queued or `flushMs` passed, and inserted
 * with retry and backoff until they are stored; the table is idempotent, so a retry or replay
 * never shows twice. `durableSeq` only covers chunks stored in order.
 */
export const makeSink = (store: Store, schema: DeviceSchema, opts: SinkOptions): Sink => {
  const timers = opts.timers ?? systemTimers
  const width = schema.fields.length
  const cap = opts.batchRows
  const columns = telemetryColumns(schema)
  const metrics: SinkMetrics = {
    rowsAdded: 0, rowsInserted: 0, inserts: 0, insertErrors: 0, bytesInserted: 0, rowsFenced: 0, rowsRefusedClosed: 0,
    widthMismatch: 0, rowsBadTime: 0,
  }

  // --- Buffer: the rows queued for the next chunk, columnar ---
  let ids: string[] = new Array<string>(cap)
  const seqs = new Float64Array(cap)
  const ts = new Float64Array(cap)
  const values = new Float64Array(cap * width)
  let n = 0
  let timer: unknown
  const idCache = new Map<string, Uint8Array>()
  const encoder = new TextEncoder()
  const writer = new TsvWriter(cap * (width * 6 + 40))

  // --- Chunks: formatted bodies in stream order, inserted with at most maxInflight at once ---
  const chunks: Chunk[] = []
  const waiters: Waiter[] = []
  let handed = 0
  let durable = 0
  let pendingRows = 0
  let inflight = 0
  let closed = false
  let fenced = false
  const sleepers = new Set<() => void>()

  const idBytes = (id: string): Uint8Array => {
    let b = idCache.get(id)
    if (b === undefined) {
      if (idCache.size > 100_000) idCache.clear()
      b = encoder.encode(escapeTsv(id))
      idCache.set(id, b)
    }
    return b
  }

  const format = (): Uint8Array => {
    const ingested = Math.floor(timers.now() / 1000)
    const w = writer
    for (let i = 0; i < n; i++) {
      const t = ts[i]!
      const sec = Math.floor(t / 1000)
      w.bytes(idBytes(ids[i]!))
      w.byte(9)
      w.uint(seqs[i]!)
      w.byte(9)
      w.uint(sec)
      w.byte(9)
      w.uint(Math.floor(t - sec * 1000))
      w.byte(9)
      w.uint(ingested)
      const base = i * width
      for (let f = 0; f < width; f++) {
        w.byte(9)
        w.float(values[base + f]!)
      }
      w.byte(10)
    }
    return w.take()
  }

  const cut = (): void => {
    if (timer !== undefined) {
      timers.clearTimeout(timer)
      timer = undefined
    }
    if (n === 0 || closed) return
    const chunk: Chunk = { body: format(), rows: n, cover: handed, started: false, done: false }
    chunks.push(chunk)
    n = 0
    ids = new Array<string>(cap)
    pump()
  }

  const settle = (): void => {
    while (chunks.length > 0 && chunks[0]!.done) {
      const c = chunks.shift()!
      durable = Math.max(durable, c.cover)
      pendingRows -= c.rows
    }
    if (chunks.length === 0 && n === 0) durable = Math.max(durable, handed)
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!
      if (w.chunk.done && !chunks.includes(w.chunk)) {
        waiters.splice(i, 1)
        w.resolve()
      }
    }
  }

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const wake = () => {
        sleepers.delete(wake)
        resolve()
      }
      sleepers.add(wake)
      timers.setTimeout(wake, ms)
    })

  const refuseAll = (): void => {
    fenced = true
    for (const c of chunks) if (!c.done) metrics.rowsFenced += c.rows
    metrics.rowsFenced += n
    n = 0
    pendingRows = 0
    const err = new FencedOut({ message: "the shard's lease moved to another owner; batch refused", rows: metrics.rowsFenced })
    for (const w of waiters.splice(0)) w.reject(err)
  }

  const insert = async (chunk: Chunk): Promise<void> => {
    for (let attempt = 0; !closed && !fenced; attempt++) {
      try {
        if (!(await opts.fence())) return refuseAll()
        if (fenced || closed) return
        await store.insert(tables.telemetry, columns, "TabSeparated", chunk.body)
        metrics.inserts++
        metrics.rowsInserted += chunk.rows
        metrics.bytesInserted += chunk.body.byteLength
        chunk.done = true
        return
      } catch (e) {
        metrics.insertErrors++
        opts.onError?.(e, attempt)
        const backoff = Math.min(opts.retryMaxMs, opts.retryMinMs * 2 ** Math.min(attempt, 20))
        await sleep(backoff * (0.5 + Math.random() / 2))
      }
    }
  }

  function pump(): void {
    for (const c of chunks) {
      if (inflight >= opts.maxInflight || fenced || closed) return
      if (c.started) continue
      c.started = true
      inflight++
      void insert(c).then(() => {
        inflight--
        settle()
        pump()
      })
    }
  }

  return {
    metrics,
    get fenced() {
      return fenced
    },
    add(batch: ReadingBatch, index: number, streamSeq: number) {
      if (closed || fenced) {
        metrics.rowsRefusedClosed++
        return
      }
      void streamSeq // rows are covered by processed(); the seq a row came from needs no storage
      const t = batch.ts[index]!
      const seq = batch.seqs[index]!
      // 18.16 reads a DateTime given as a number only with exactly 10 digits; anything else would
      // poison the whole insert and block the shard, so such a reading is refused and counted here.
      if (!(t >= minTs && t < maxTs) || !(seq >= 0 && seq <= Number.MAX_SAFE_INTEGER && Math.floor(seq) === seq)) {
        metrics.rowsBadTime++
        return
      }
      ids[n] = batch.ids[index]!
      seqs[n] = seq
      ts[n] = t
      const bw = batch.width
      const src = index * bw
      const dst = n * width
      if (bw === width) {
        values.set(batch.values.subarray(src, src + width), dst)
      } else {
        metrics.widthMismatch++
        for (let f = 0; f < width; f++) values[dst + f] = f < bw ? batch.values[src + f]! : NaN
      }
      n++
      pendingRows++
      metrics.rowsAdded++
      if (n >= cap) cut()
      else if (n === 1) timer = timers.setTimeout(cut, opts.flushMs)
    },
    processed(streamSeq: number) {
      if (streamSeq > handed) handed = streamSeq
      if (n === 0 && chunks.length === 0) durable = Math.max(durable, handed)
    },
    get durableSeq() {
      return durable
    },
    get pending() {
      return pendingRows
    },
    flush() {
      if (fenced) return Promise.reject(new FencedOut({ message: "sink was fenced out", rows: metrics.rowsFenced }))
      if (closed) return Promise.reject(new SinkClosed({ message: "sink is closed" }))
      cut()
      const last = chunks[chunks.length - 1]
      if (last === undefined) {
        durable = Math.max(durable, handed)
        return Promise.resolve()
      }
      return new Promise<void>((resolve, reject) => waiters.push({ chunk: last, resolve, reject }))
    },
    async close() {
      closed = true
      if (timer !== undefined) timers.clearTimeout(timer)
      timer = undefined
      for (const wake of [...sleepers]) wake()
      for (const w of waiters.splice(0)) w.reject(new SinkClosed({ message: "sink closed before the flush completed" }))
    },
  }
}
