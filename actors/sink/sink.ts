import type { DeviceSchema } from "../../config/device-schema.ts"
import type { ReadingBatch } from "../../runtime/batch.ts"
import { type Cancel, type Clock, systemClock } from "../../runtime/clock.ts"
import { retry } from "../../runtime/retry.ts"
import type { SinkPort } from "../../runtime/sink-port.ts"
import { FencedOut, SinkClosed } from "./errors.ts"
import { RowColumns, storable } from "./internal/columns.ts"
import { nativeEncoder, tsvEncoder, type EncodedRows, type RowEncoder } from "./internal/row-encoders.ts"
import type { Store } from "./store.ts"
import { tables, telemetryColumns } from "./tables.ts"

export { maxTs, minTs } from "./internal/columns.ts"

/** Batching and retry options shared by the shard sinks of one node (config section `sink`). */
export interface SinkGroupOptions {
  /** Insert when this many rows are queued across the group's shards. */
  readonly batchRows: number
  /** …or this long after the first row was queued. */
  readonly flushMs: number
  /** Concurrent inserts; each shard's `durableSeq` still advances strictly in order. */
  readonly maxInflight: number
  readonly retryMinMs: number
  readonly retryMaxMs: number
  /** A shard sink reports `full` at this many pending rows (the host pauses intake). Default: unbounded. */
  readonly maxPendingRows?: number | undefined
  /** Called on every failed insert attempt (logging); the group retries by itself. */
  readonly onError?: ((e: unknown, attempt: number) => void) | undefined
  /** Time and timers (default: the system clock). */
  readonly clock?: Clock | undefined
}

/** Options of a single stand-alone sink ({@link makeSink}). */
export interface SinkOptions extends SinkGroupOptions {
  /**
   * Fencing check run before every insert attempt: resolves true while this node still holds the
   * shard's lease (its token is current). False refuses the batch and every later one.
   */
  readonly fence: () => Promise<boolean>
}

/** Counters of one shard's sink (the lead wires them to Prometheus). */
export interface SinkMetrics {
  rowsAdded: number
  rowsInserted: number
  /** Inserts that carried rows of this shard, and failed attempts among them. */
  inserts: number
  insertErrors: number
  bytesInserted: number
  /** Rows refused because the fencing check failed (a deposed owner's batches). */
  rowsFenced: number
  /** Rows offered after close or fencing (not stored; the stream still has them). */
  rowsRefusedClosed: number
  /** Readings whose width differed from the schema (missing fields stored as NaN, extra ignored). */
  widthMismatch: number
  /**
   * Readings not stored because their event time or seq cannot be a DateTime/UInt64 row
   * (before 2001-09-09 or after 2106, negative or non-integer seq); counted, never retried.
   */
  rowsBadTime: number
}

/** A per-shard ClickHouse sink: the {@link SinkPort} plus counters and fencing state. */
export interface Sink extends SinkPort {
  readonly metrics: Readonly<SinkMetrics>
  /** True once the fencing check refused a batch; the sink then takes nothing more. */
  readonly fenced: boolean
  /** `pending` reached `maxPendingRows`: the host should stop reading the stream until it drops. */
  readonly full: boolean
}

/** The sinks of one node's shards, sharing inserts so ClickHouse sees few, large ones. */
export interface SinkGroup {
  /** A fresh sink for `shard`, whose lease `fence` checks; replaces an earlier one for the shard. */
  sinkFor(shard: number, fence: () => Promise<boolean>): Sink
  readonly metrics: Readonly<{ inserts: number; insertErrors: number; rowsInserted: number; bytesInserted: number }>
  /** Stops timers and retries of every shard; does not flush. */
  close(): Promise<void>
}

interface Segment {
  readonly owner: ShardState
  /** The rows as an insert body; every attempt re-stamps their `ingested` (see {@link RowEncoder.restamp}). */
  readonly encoded: EncodedRows
  readonly rows: number
  /** Every row of the shard from stream seq ≤ cover is in this segment or an earlier one. */
  readonly cover: number
  done: boolean
}

interface ShardState {
  readonly buf: RowColumns
  readonly segments: Segment[]
  readonly fence: () => Promise<boolean>
  readonly metrics: SinkMetrics
  readonly waiters: Array<{ seg: Segment; resolve: () => void; reject: (e: unknown) => void }>
  handed: number
  durable: number
  pending: number
  closed: boolean
  fenced: boolean
}

const concat = (parts: Uint8Array[]): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/**
 * Makes the sink group of a node. Each shard's rows are copied into growable columns (no per-row
 * objects); when `batchRows` rows are queued across shards or `flushMs` passed, every shard's
 * buffer is cut into a segment (Native when the store takes binary bodies, else TabSeparated)
 * and segments are inserted together, at most
 * `maxInflight` inserts at once, retried with backoff until stored (the table is idempotent, so a
 * retry or replay never shows twice). Before every attempt each shard in the insert is fenced;
 * a shard whose lease moved has its segments removed and refused. A shard's `durableSeq` only
 * covers its segments stored in order.
 */
export const makeSinkGroup = (store: Store, schema: DeviceSchema, opts: SinkGroupOptions): SinkGroup => {
  const clock = opts.clock ?? systemClock
  const backoff = { initialMs: opts.retryMinMs, maxMs: opts.retryMaxMs, jitter: 0.5 }
  const width = schema.fields.length
  const columns = telemetryColumns(schema)
  const encoder = store.binaryInsert ? nativeEncoder(schema.fields.map((f) => f.name)) : tsvEncoder()
  const metrics = { inserts: 0, insertErrors: 0, rowsInserted: 0, bytesInserted: 0 }
  const shards = new Map<number, ShardState>()
  const queue: Segment[] = []
  const stopping = new AbortController()
  let buffered = 0
  let timer: Cancel | undefined
  let inflight = 0
  let closed = false

  // --- Cutting: shard buffers → formatted segments, in each shard's stream order ---
  const cut = (s: ShardState): void => {
    if (s.buf.n === 0 || s.closed || s.fenced) return
    const rows = s.buf.n
    buffered -= rows
    const seg: Segment = { owner: s, encoded: encoder.encode(s.buf, Math.floor(clock.now() / 1000)), rows, cover: s.handed, done: false }
    s.segments.push(seg)
    queue.push(seg)
  }

  const cutAll = (): void => {
    timer?.()
    timer = undefined
    for (const s of shards.values()) cut(s)
    pump()
  }

  const settle = (s: ShardState): void => {
    while (s.segments.length > 0 && s.segments[0]!.done) {
      const seg = s.segments.shift()!
      s.durable = Math.max(s.durable, seg.cover)
      s.pending -= seg.rows
    }
    if (s.segments.length === 0 && s.buf.n === 0) s.durable = Math.max(s.durable, s.handed)
    for (let i = s.waiters.length - 1; i >= 0; i--) {
      const w = s.waiters[i]!
      if (w.seg.done && !s.segments.includes(w.seg)) {
        s.waiters.splice(i, 1)
        w.resolve()
      }
    }
  }

  const refuse = (s: ShardState): void => {
    if (s.fenced) return
    s.fenced = true
    for (const seg of s.segments) if (!seg.done) s.metrics.rowsFenced += seg.rows
    s.metrics.rowsFenced += s.buf.n
    buffered -= s.buf.n
    s.buf.clear()
    s.pending = 0
    const err = new FencedOut({ message: "the shard's lease moved to another owner; batch refused", rows: s.metrics.rowsFenced })
    for (const w of s.waiters.splice(0)) w.reject(err)
  }

  // --- Inserting: one insert of several segments, fenced per shard, retried until stored ---
  const insert = async (segs: Segment[]): Promise<void> => {
    const attempt = async (n: number): Promise<void> => {
      const owners = [...new Set(segs.map((g) => g.owner))]
      try {
        const ok = await Promise.all(owners.map((o) => (o.fenced || o.closed ? Promise.resolve(false) : o.fence())))
        owners.forEach((o, i) => {
          if (!ok[i] && !o.closed) refuse(o)
        })
        segs = segs.filter((g) => !g.owner.fenced && !g.owner.closed)
        if (segs.length === 0 || closed) return
        const stamp = Math.floor(clock.now() / 1000)
        for (const g of segs) encoder.restamp(g.encoded, stamp)
        const body = concat(segs.map((g) => g.encoded.body))
        await store.insert(tables.telemetry, columns, encoder.format, body)
        metrics.inserts++
        metrics.bytesInserted += body.byteLength
        for (const g of segs) {
          g.done = true
          metrics.rowsInserted += g.rows
          g.owner.metrics.rowsInserted += g.rows
          g.owner.metrics.bytesInserted += g.encoded.body.byteLength
        }
        for (const o of new Set(segs.map((g) => g.owner))) o.metrics.inserts++
      } catch (e) {
        metrics.insertErrors++
        for (const o of owners) o.metrics.insertErrors++
        opts.onError?.(e, n - 1)
        throw e
      }
    }
    // Every error is retried until stored or the group closes (then the segments stay unstored).
    await retry(attempt, { clock, backoff, signal: stopping.signal }).catch((e) => {
      if (!stopping.signal.aborted) throw e
    })
  }

  function pump(): void {
    while (!closed && inflight < opts.maxInflight && queue.length > 0) {
      const segs: Segment[] = []
      let rows = 0
      while (queue.length > 0 && (segs.length === 0 || rows + queue[0]!.rows <= opts.batchRows)) {
        const g = queue.shift()!
        segs.push(g)
        rows += g.rows
      }
      inflight++
      void insert(segs).then(() => {
        inflight--
        for (const o of new Set(segs.map((g) => g.owner))) settle(o)
        pump()
      })
    }
  }

  const noteAdded = (): void => {
    if (++buffered >= opts.batchRows) cutAll()
    else if (timer === undefined) timer = clock.after(opts.flushMs, cutAll)
  }

  return {
    metrics,
    sinkFor(shard, fence) {
      const old = shards.get(shard)
      if (old) {
        old.closed = true
        buffered -= old.buf.n
        old.buf.clear()
      }
      const s: ShardState = {
        buf: new RowColumns(width), segments: [], fence, waiters: [], handed: 0, durable: 0, pending: 0, closed: false, fenced: false,
        metrics: {
          rowsAdded: 0, rowsInserted: 0, inserts: 0, insertErrors: 0, bytesInserted: 0, rowsFenced: 0, rowsRefusedClosed: 0,
          widthMismatch: 0, rowsBadTime: 0,
        },
      }
      shards.set(shard, s)
      return {
        metrics: s.metrics,
        get fenced() {
          return s.fenced
        },
        get full() {
          return s.pending >= (opts.maxPendingRows ?? Infinity)
        },
        add(batch: ReadingBatch, index: number, _streamSeq: number) {
          if (s.closed || s.fenced || closed) {
            s.metrics.rowsRefusedClosed++
            return
          }
          const t = batch.ts[index]!
          const seq = batch.seqs[index]!
          // A row the table cannot hold would poison the whole insert and block the shard, so such a
          // reading is refused and counted here, whatever the insert format.
          if (!storable(t, seq)) {
            s.metrics.rowsBadTime++
            return
          }
          if (!s.buf.push(batch, index, t, seq)) s.metrics.widthMismatch++
          s.pending++
          s.metrics.rowsAdded++
          noteAdded()
        },
        processed(streamSeq: number) {
          if (streamSeq > s.handed) s.handed = streamSeq
          if (s.buf.n === 0 && s.segments.length === 0 && !s.fenced) s.durable = Math.max(s.durable, s.handed)
        },
        get durableSeq() {
          return s.durable
        },
        get pending() {
          return s.pending
        },
        flush() {
          if (s.fenced) return Promise.reject(new FencedOut({ message: "sink was fenced out", rows: s.metrics.rowsFenced }))
          if (s.closed || closed) return Promise.reject(new SinkClosed({ message: "sink is closed" }))
          cut(s)
          pump()
          const last = s.segments[s.segments.length - 1]
          if (last === undefined) {
            s.durable = Math.max(s.durable, s.handed)
            return Promise.resolve()
          }
          return new Promise<void>((resolve, reject) => s.waiters.push({ seg: last, resolve, reject }))
        },
        async close() {
          s.closed = true
          buffered -= s.buf.n
          s.buf.clear()
          if (shards.get(shard) === s) shards.delete(shard)
          for (const w of s.waiters.splice(0)) w.reject(new SinkClosed({ message: "sink closed before the flush completed" }))
        },
      }
    },
    async close() {
      closed = true
      timer?.()
      timer = undefined
      stopping.abort()
      for (const s of shards.values()) {
        s.closed = true
        for (const w of s.waiters.splice(0)) w.reject(new SinkClosed({ message: "sink closed before the flush completed" }))
      }
    },
  }
}

/** A stand-alone sink for one shard (a group of one): closing it closes its group. */
export const makeSink = (store: Store, schema: DeviceSchema, opts: SinkOptions): Sink => {
  const group = makeSinkGroup(store, schema, opts)
  const sink = group.sinkFor(0, opts.fence)
  return Object.assign(Object.create(sink) as Sink, {
    add: sink.add,
    processed: sink.processed,
    flush: sink.flush,
    close: async () => {
      await sink.close()
      await group.close()
    },
  })
}
