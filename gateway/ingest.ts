/**
 * Per-shard batching and durable device acks — the gateway's core between decoded readings and
 * JetStream. Readings go into one {@link BatchBuilder} per shard; a batch is sealed at
 * `flushBytes` or after `flushMs`, encoded (`BatchBuilder.encode`) and handed to `publish`. Each shard
 * has at most one publish in flight, so batches of a shard enter the stream in order and a device's
 * readings stay in seq order across retries; a failed publish is retried with the same message id
 * (JetStream de-duplicates) and nothing behind it overtakes it. After a PubAck, every connection
 * with readings in that batch learns the highest seq that is now durable without gaps.
 *
 * IO-free: publish, time and timers are injected, so tests drive it step by step.
 */
import type { Clock } from "../runtime/clock.ts"
import { backoffDelay } from "../runtime/retry.ts"
import { BatchBuilder, noBoot } from "../runtime/batch.ts"
import type { GatewayMetrics } from "./metrics.ts"

/** One connection's view of its own readings: runs of (batch number, last seq), oldest first. */
export class AckCursor {
  private batches: number[] = []
  private seqs: number[] = []
  private head = 0

  /** Records a reading placed in `batch`; true when this is the connection's first reading in it. */
  record(batch: number, seq: number): boolean {
    const last = this.batches.length - 1
    if (last >= this.head && this.batches[last] === batch) {
      this.seqs[last] = seq
      return false
    }
    this.batches.push(batch)
    this.seqs.push(seq)
    return true
  }

  /** Drops runs in batches ≤ `durableThrough`; returns the seq of the last one dropped, if any. */
  advance(durableThrough: number): number | undefined {
    let seq: number | undefined
    while (this.head < this.batches.length && this.batches[this.head]! <= durableThrough) seq = this.seqs[this.head++]
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head)
      this.seqs = this.seqs.slice(this.head)
      this.head = 0
    }
    return seq
  }

  /** Readings' runs not yet durable. */
  get pending(): number {
    return this.batches.length - this.head
  }
}

/** What the ingest core needs from a connection. */
export interface AckTarget {
  readonly cursor: AckCursor
  /** Called with the highest seq that is durable without gaps on this connection. */
  ack(seq: number): void
}

/** A failed publish is retried after 50, 100, … ms, at most 1 s apart (same message id). */
const publishBackoff = { initialMs: 50, maxMs: 1000, jitter: 0 }

export interface IngestOptions {
  readonly partitions: number
  readonly width: number
  readonly schemaVersion: number
  readonly flushBytes: number
  readonly flushMs: number
  /** Readings accepted but not yet durable above which `onPressure(true)` is called. */
  readonly maxBufferedReadings: number
  /** Publishes in flight over all shards (each shard has at most one). */
  readonly maxInFlight: number
  /** Unique per gateway process; prefixes JetStream message ids. */
  readonly instanceId: string
  publish(shard: number, bytes: Uint8Array, msgId: string): Promise<unknown>
  /** Time and the retry back-off timer. */
  readonly clock: Clock
  /** Pause (true) or resume (false) reading from devices. */
  onPressure(paused: boolean): void
  readonly metrics: GatewayMetrics
}

interface Sealed {
  readonly no: number
  readonly bytes: Uint8Array
  readonly n: number
  readonly targets: AckTarget[]
  /** When the batch's first reading arrived (for the ACK latency histogram). */
  readonly openedAt: number
  attempts: number
}

interface ShardState {
  readonly builder: BatchBuilder
  /** Number of the open batch. */
  open: number
  openSince: number
  openTargets: AckTarget[]
  readonly queue: Sealed[]
  inFlight: boolean
  durableThrough: number
}

export class Ingest {
  private readonly shards: ShardState[]
  private inFlight = 0
  private bufferedN = 0
  private paused = false
  /** The one flush timer of the gateway is armed (there is an open batch). */
  private flushArmed = false
  private readonly waiting = new Set<number>()
  private drainWaiters: Array<() => void> = []

  constructor(private readonly o: IngestOptions) {
    this.shards = Array.from({ length: o.partitions }, () => ({
      builder: new BatchBuilder(o.width, o.schemaVersion), open: 1, openSince: 0, openTargets: [], queue: [],
      inFlight: false, durableThrough: 0,
    }))
  }

  /** Readings accepted and not yet durable. */
  get buffered(): number {
    return this.bufferedN
  }

  /** True while reading from devices should stay paused. */
  get isPaused(): boolean {
    return this.paused
  }

  /** Adds one validated reading of `target`'s device (numbering epoch `boot`) to its shard's open batch. */
  add(target: AckTarget, device: string, shard: number, seq: number, ts: number, row: ArrayLike<number>, boot = noBoot): void {
    const s = this.shards[shard]!
    if (s.builder.size === 0) {
      s.openSince = this.o.clock.now()
      if (!this.flushArmed) this.armFlush(this.o.flushMs)
    }
    s.builder.push(device, seq, ts, row, 0, boot)
    if (target.cursor.record(s.open, seq)) s.openTargets.push(target)
    this.bufferedN++
    this.o.metrics.accepted++
    if (s.builder.bytes >= this.o.flushBytes) this.seal(shard)
    if (!this.paused && this.bufferedN >= this.o.maxBufferedReadings) {
      this.paused = true
      this.o.metrics.backpressure_pauses++
      this.o.onPressure(true)
    }
  }

  /**
   * One flush timer for the whole gateway, armed while a batch is open (an idle gateway wakes for
   * nothing). When it fires it seals every batch that is due and, with them, every batch at least
   * half `flushMs` old, then re-arms for the oldest batch left. So no batch waits longer than
   * `flushMs`, and the batches of many shards are sealed in one turn: their publishes leave in one
   * socket write (nats.js flushes once per microtask turn) instead of one write each.
   */
  private armFlush(ms: number): void {
    this.flushArmed = true
    this.o.clock.after(ms, () => {
      this.flushArmed = false
      const now = this.o.clock.now()
      const early = this.o.flushMs / 2
      let next = Number.POSITIVE_INFINITY
      for (let i = 0; i < this.shards.length; i++) {
        const s = this.shards[i]!
        if (s.builder.size === 0) continue
        const age = now - s.openSince
        if (age >= early) this.seal(i)
        else next = Math.min(next, this.o.flushMs - age)
      }
      if (next !== Number.POSITIVE_INFINITY) this.armFlush(next)
    })
  }

  /** Seals every batch older than `flushMs` now (the flush timers do it on their own; tests call it). */
  tick(): void {
    const now = this.o.clock.now()
    for (let i = 0; i < this.shards.length; i++) {
      const s = this.shards[i]!
      if (s.builder.size > 0 && now - s.openSince >= this.o.flushMs) this.seal(i)
    }
  }

  /** Seals everything open and resolves once every accepted reading is durable. */
  drain(): Promise<void> {
    for (let i = 0; i < this.shards.length; i++) if (this.shards[i]!.builder.size > 0) this.seal(i)
    if (this.bufferedN === 0) return Promise.resolve()
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  private seal(shard: number): void {
    const s = this.shards[shard]!
    const n = s.builder.size
    // recvAt: when the batch's first reading arrived, so latency measured from it includes the wait here.
    const bytes = s.builder.encode(s.openSince)
    s.queue.push({ no: s.open, bytes, n, targets: s.openTargets, openedAt: s.openSince, attempts: 0 })
    s.open++
    s.openTargets = []
    this.pump(shard)
  }

  private pump(shard: number): void {
    const s = this.shards[shard]!
    if (s.inFlight || s.queue.length === 0) return
    if (this.inFlight >= this.o.maxInFlight) {
      this.waiting.add(shard)
      return
    }
    this.waiting.delete(shard)
    const b = s.queue[0]!
    s.inFlight = true
    this.inFlight++
    b.attempts++
    this.o.publish(shard, b.bytes, `${this.o.instanceId}.${shard}.${b.no}`).then(
      () => this.published(shard, b),
      () => {
        this.o.metrics.publish_errors++
        // Keep the slot: nothing of this shard may overtake the failed batch.
        this.o.clock.after(backoffDelay(publishBackoff, b.attempts), () => {
          s.inFlight = false
          this.inFlight--
          this.pump(shard)
          this.pumpWaiting()
        })
      },
    )
  }

  private published(shard: number, b: Sealed): void {
    const s = this.shards[shard]!
    s.queue.shift()
    s.inFlight = false
    this.inFlight--
    s.durableThrough = b.no
    this.bufferedN -= b.n
    const m = this.o.metrics
    m.durable += b.n
    m.published_batches++
    m.observeAckLatency?.((this.o.clock.now() - b.openedAt) / 1000)
    for (const t of b.targets) {
      const seq = t.cursor.advance(b.no)
      if (seq !== undefined) t.ack(seq)
    }
    if (this.paused && this.bufferedN <= this.o.maxBufferedReadings / 2) {
      this.paused = false
      this.o.onPressure(false)
    }
    this.pump(shard)
    this.pumpWaiting()
    if (this.bufferedN === 0 && this.drainWaiters.length > 0) {
      const ws = this.drainWaiters
      this.drainWaiters = []
      for (const w of ws) w()
    }
  }

  private pumpWaiting(): void {
    for (const sh of this.waiting) {
      if (this.inFlight >= this.o.maxInFlight) return
      this.pump(sh)
    }
  }
}
