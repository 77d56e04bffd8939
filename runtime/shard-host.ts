import { DeliverPolicy, type Consumer, type ConsumerMessages } from "@nats-io/jetstream"
import type { Subscription } from "@nats-io/transport-node"
import type { ActorContext, ActorKind } from "./actor-kind.ts"
import { ActorTable } from "./actor-table.ts"
import { alertSubject, type AlertTransition } from "./alert.ts"
import { decodeBatch, type ReadingBatch } from "./batch.ts"
import { batchProblem } from "./batch-check.ts"
import type { Checkpoint, Checkpoints } from "./checkpoints.ts"
import type { Clock } from "./clock.ts"
import { LeaseLost } from "./errors.ts"
import type { Lease } from "./leases.ts"
import type { Nats } from "./nats/connection.ts"
import { fromRequester } from "./nats/guard.ts"
import { publishDeadLetter } from "./nats/dead-letters.ts"
import { names } from "./nats/topology.ts"
import { rpcSubject, telemetrySubject } from "./shard.ts"
import type { SinkPort } from "./sink-port.ts"
import { ActorReply, ActorRequest } from "./wire.ts"

/** Why a shard host stopped. */
export type StopReason = "handoff" | "drain" | "fenced" | "shutdown"

/** Structured event log (JSON lines on stdout in a node process). */
export type EventLog = (event: string, fields: Record<string, unknown>) => void

/** Settings of a shard host. */
export interface ShardHostOptions {
  readonly checkpointMs: number
  /**
   * Bandwidth bound of one shard's checkpoints: after a checkpoint of B bytes the next one waits
   * at least B ÷ this seconds (and never less than `checkpointMs`). Window state grows with rate ×
   * window length (4.8 MB per shard at 100 Hz with 10-min windows), and without a bound the
   * checkpoints outweighed the readings on NATS; replay after a crash grows by the same time.
   */
  readonly checkpointBytesPerSec?: number | undefined
  readonly actorIdleMs: number
  readonly tickMs: number
  /** Pause intake while the sink holds more rows than this (the stream is the buffer). */
  readonly maxPendingRows: number
}

/** Everything a shard host is given by its node. */
export interface ShardHostDeps {
  readonly shard: number
  readonly lease: Lease
  readonly owner: string
  readonly nats: Nats
  readonly checkpoints: Checkpoints
  readonly kind: ActorKind<unknown>
  readonly sink: SinkPort
  readonly clock: Clock
  readonly log: EventLog
  /** False when this node must stop processing at once (its heartbeats are failing). */
  readonly healthy: () => boolean
  readonly options: ShardHostOptions
  /**
   * Called once when the host stopped processing by itself (its node turned unhealthy, or its
   * lease was lost), not through {@link ShardHost.stop}: the node must replace or drop it, or the
   * shard would stay held by a host that reads nothing.
   */
  readonly onEnded?: (() => void) | undefined
}

const encoder = new TextEncoder()
/** Longest stretch of batch handling before the consume loop yields to timers and I/O. */
const yieldEveryMs = 10

/**
 * Processes one shard while this node holds its lease: restores the last checkpoint, consumes
 * `akis.tlm.<shard>` from the next stream sequence with an ordered consumer, delivers readings in
 * order to virtual actors, and checkpoints (state + stream position, fenced) every
 * `checkpointMs` once the sink has made everything up to that position durable.
 *
 * --- Ordering constraints ---
 * Batches are handled synchronously one at a time; checkpoints run between batches and wait
 * for alert publishes and the sink, so a checkpoint never claims an effect that is not durable.
 * On any output failure the host drops its in-memory state and resumes from the checkpoint
 * (replay is idempotent: alert msg ids, sink dedup).
 */
export class ShardHost {
  private readonly actors: ActorTable
  private processedSeq = 0
  private checkpointSeq = 0
  private cpRevision = 0
  private lastCheckpointAt = 0
  private messages: ConsumerMessages | undefined
  private consumer: Consumer | undefined
  private lastRecvAt = 0
  /**
   * True when the last handled message had nothing after it in the stream (or there was nothing
   * to replay): timers then run on the clock. While catching up (replay after a move, backlog)
   * they run on the arrival time of the newest handled batch, so a replayed reading counts from
   * when it arrived (no late absence alert after a failover) and a backlog does not look like
   * silence (no early one).
   */
  private caughtUp = false
  /** A tick published a transition that no checkpoint holds yet. */
  private tickChanged = false
  private loop: Promise<void> | undefined
  private rpc: Subscription | undefined
  private ticker: ReturnType<typeof setInterval> | undefined
  private stopping: StopReason | undefined
  private outputs: Array<Promise<unknown>> = []
  private outputFailed: unknown
  private firstBatchLogged = false
  private checkpointing: Promise<void> | undefined
  private stopCalled = false
  /** Time to the next checkpoint: `checkpointMs`, longer after a large one. */
  private checkpointGapMs: number
  /** True once the consume loop has ended (by {@link stop} or by itself). */
  ended = false
  private readonly ctx: ActorContext & { streamSeq: number; now: number }
  /** Counters shown by `ops cluster` and metrics. */
  readonly metrics = {
    batches: 0, readings: 0, malformedBatches: 0, checkpoints: 0, checkpointBytes: 0, resets: 0,
    /** Batches copied to AKIS_DLQ (malformed, invalid readings, or an actor that threw). */
    deadLetters: 0,
    /** Readings an actor threw on (their batch is dead-lettered; the other readings went on). */
    poisonReadings: 0,
    /** Times this shard found stream messages expired before it read them, and how many stream sequences. */
    gaps: 0,
    gapSeqs: 0,
  }

  constructor(private readonly d: ShardHostDeps) {
    this.checkpointGapMs = d.options.checkpointMs
    const host = this
    this.ctx = {
      now: 0,
      shard: d.shard,
      streamSeq: 0,
      publish(subject, payload, msgId) {
        const data = encoder.encode(JSON.stringify(payload))
        const p = d.nats.js.publish(subject, data, msgId ? { msgID: msgId } : undefined)
        p.catch((e) => (host.outputFailed ??= e))
        host.outputs.push(p)
      },
      store(batch: ReadingBatch, index: number) {
        d.sink.add(batch, index, host.ctx.streamSeq)
      },
    }
    this.actors = new ActorTable(d.kind, this.ctx, { actorIdleMs: d.options.actorIdleMs, tickMs: d.options.tickMs })
  }

  get shard(): number {
    return this.d.shard
  }

  /** The lease this host processes under (its revision is the fencing token). */
  get lease(): Lease {
    return this.d.lease
  }

  /** Position, lag and size, for inspection (`ops cluster`). */
  async stats() {
    // Fresh from the server: the cached info is from the consumer's creation, so its num_pending
    // (the lag `ops cluster` shows) would be stale.
    const info = await this.consumer?.info(false).catch(() => undefined)
    return {
      shard: this.d.shard, epoch: this.d.lease.epoch, processedSeq: this.processedSeq, checkpointSeq: this.checkpointSeq,
      pendingBatches: info?.num_pending ?? null, lastBatchAgeMs: this.lastRecvAt ? this.d.clock.now() - this.lastRecvAt : null,
      actors: this.actors.live.size, passivated: this.actors.passive.size, timers: this.actors.wakeups.size, sinkPending: this.d.sink.pending,
      ...this.metrics, ...this.actors.metrics,
    }
  }

  /** Claims the checkpoint, restores actors, starts answering queries and consuming. */
  async start(): Promise<void> {
    const { checkpoint, revision } = await this.d.checkpoints.claim(this.d.shard, this.d.lease.epoch, this.d.owner, this.d.clock.now())
    this.cpRevision = revision
    this.restore(checkpoint)
    this.rpc = this.d.nats.nc.subscribe(rpcSubject(this.d.shard), { callback: (_e, m) => this.answer(m) })
    this.ticker = setInterval(() => this.tick(), this.d.options.tickMs)
    this.d.log("shard.start", { shard: this.d.shard, epoch: this.d.lease.epoch, fromSeq: this.processedSeq + 1, actors: checkpoint.actors.length })
    this.loop = this.run().finally(() => {
      this.ended = true
      if (!this.stopCalled) this.d.onEnded?.()
    })
  }

  /**
   * Stops the shard. Planned stops (handoff, drain, shutdown) stop intake, checkpoint what is
   * durable and return true; `fenced` drops everything at once (another node owns the shard).
   */
  async stop(reason: StopReason): Promise<boolean> {
    this.stopCalled = true
    this.stopping ??= reason
    this.d.log("shard.stopping", { shard: this.d.shard, epoch: this.d.lease.epoch, reason })
    if (this.ticker) clearInterval(this.ticker)
    await this.messages?.close().catch(() => {})
    await this.loop?.catch(() => {})
    this.rpc?.unsubscribe()
    await this.checkpointing
    let clean = false
    if (reason !== "fenced" && this.stopping !== "fenced") {
      try {
        await this.checkpoint()
        clean = true
      } catch (e) {
        this.d.log("shard.checkpoint_failed", { shard: this.d.shard, error: String(e) })
      }
    }
    await this.d.sink.close()
    this.d.log("shard.stop", { shard: this.d.shard, epoch: this.d.lease.epoch, reason, processedSeq: this.processedSeq, checkpointSeq: this.checkpointSeq, clean })
    return clean
  }

  // --- Consume loop: one ordered consumer; resets to the checkpoint on output failure ---

  private async run(): Promise<void> {
    let backoff = 100
    while (!this.stopping) {
      try {
        await this.checkGap()
        const consumer = (this.consumer = await this.d.nats.js.consumers.get(names.telemetry, {
          filter_subjects: telemetrySubject(this.d.shard),
          ...(this.processedSeq > 0
            ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.processedSeq + 1 }
            : { deliver_policy: DeliverPolicy.All }),
        }))
        if (this.stopping) return
        if ((await consumer.info(true)).num_pending === 0) this.caughtUp = true
        this.messages = await consumer.consume({ max_messages: 256, expires: 2_000 })
        backoff = 100
        let sliceStart = performance.now()
        for await (const m of this.messages) {
          // Buffered messages resolve as microtasks, so without a yield a full pull buffer is
          // handled in one go, starving timers and sockets: heartbeats then go out late and the
          // node fences itself under load. Give the event loop a turn every few milliseconds.
          if (performance.now() - sliceStart > yieldEveryMs) {
            await new Promise((r) => setImmediate(r))
            sliceStart = performance.now()
          }
          if (this.stopping) break
          if (!this.d.healthy()) {
            this.d.log("shard.unhealthy", { shard: this.d.shard })
            this.stopping = "fenced"
            break
          }
          this.handle(m.data, m.seq)
          this.caughtUp = m.info.pending === 0
          if (this.outputFailed) throw this.outputFailed
          if (this.d.sink.pending > this.d.options.maxPendingRows) await this.d.sink.flush()
          this.checkpointIfDue()
        }
      } catch (e) {
        if (this.stopping) return
        if (e instanceof LeaseLost) {
          this.d.log("shard.fenced", { shard: this.d.shard, epoch: this.d.lease.epoch })
          this.stopping = "fenced"
          return
        }
        this.d.log("shard.reset", { shard: this.d.shard, error: String(e), backoffMs: backoff })
        await this.messages?.close().catch(() => {})
        await Bun.sleep(backoff)
        backoff = Math.min(backoff * 2, 2_000)
        await this.resetToCheckpoint().catch((err) => {
          if (err instanceof LeaseLost) this.stopping = "fenced"
        })
      }
    }
  }

  /** Starts a background checkpoint when the gap since the last one has passed (and none is running). */
  private checkpointIfDue(): void {
    if (this.d.clock.now() - this.lastCheckpointAt < this.checkpointGapMs || this.checkpointing) return
    // Snapshot now, wait for durability and write in the background: intake does not pause.
    this.checkpointing = this.checkpoint().catch((e) => {
      if (e instanceof LeaseLost) {
        this.d.log("shard.fenced", { shard: this.d.shard, epoch: this.d.lease.epoch })
        this.stopping = "fenced"
        void this.messages?.close()
      } else this.d.log("shard.checkpoint_failed", { shard: this.d.shard, error: String(e) })
    }).finally(() => (this.checkpointing = undefined))
  }

  private handle(data: Uint8Array, seq: number): void {
    let batch: ReadingBatch | undefined
    let problem: string | undefined
    try {
      batch = decodeBatch(data)
      problem = batchProblem(batch)
    } catch (e) {
      problem = `malformed batch: ${(e as Error)?.message ?? String(e)}`
    }
    if (problem !== undefined) {
      // A poison message: copy it aside with the reason and go on (it must not stop the shard).
      this.metrics.malformedBatches++
      this.deadLetter(seq, data, problem)
      this.processedSeq = seq
      this.d.sink.processed(seq)
      return
    }
    const b = batch!
    const clock = this.d.clock.now()
    // A reading's processing time is when it arrived (the gateway's receive time), not when a
    // replay or a backlog gets to it: absence and idle timers count from there.
    const now = b.recvAt > 0 ? Math.min(clock, b.recvAt) : clock
    const ctx = this.ctx
    ctx.now = now
    ctx.streamSeq = seq
    const kind = this.d.kind
    const ids = b.ids
    const actors = this.actors
    let failures: string[] | undefined
    for (let i = 0; i < ids.length; i++) {
      const a = actors.get(ids[i]!, now)
      a.lastActive = now
      try {
        kind.onReading(a.state, b, i, ctx)
      } catch (e) {
        this.metrics.poisonReadings++
        ;(failures ??= []).push(`reading ${i} (${ids[i]}): ${(e as Error)?.message ?? String(e)}`)
      }
    }
    if (failures) this.deadLetter(seq, data, `actor failed on ${failures.length} reading(s): ${failures.slice(0, 5).join("; ")}`)
    this.processedSeq = seq
    if (b.recvAt > this.lastRecvAt) this.lastRecvAt = b.recvAt
    this.d.sink.processed(seq)
    this.metrics.batches++
    this.metrics.readings += ids.length
    if (!this.firstBatchLogged) {
      this.firstBatchLogged = true
      this.d.log("shard.first", { shard: this.d.shard, epoch: this.d.lease.epoch, seq, lagMs: clock - b.recvAt })
    }
  }

  /**
   * Copies a stream message aside to AKIS_DLQ with the reason. The publish is an output like an
   * alert: the next checkpoint waits for it, and a failure resets to the checkpoint, so a dead
   * letter is never lost (and stored once: its msg id is the stream sequence).
   */
  private deadLetter(seq: number, data: Uint8Array, reason: string): void {
    this.metrics.deadLetters++
    this.d.log("shard.dead_letter", { shard: this.d.shard, seq, reason })
    const p = publishDeadLetter(this.d.nats.js, { source: "tlm", reason, subject: telemetrySubject(this.d.shard), stream: names.telemetry, seq, data: data.slice() }, this.d.clock.now())
    p.catch((e) => (this.outputFailed ??= e))
    this.outputs.push(p)
  }

  /**
   * Before (re)reading from the checkpoint: were stream messages after it removed (max age or max
   * bytes) before this shard read them? Then readings are lost; say so in metrics, the log and an
   * alert, and go on from the first message still there. The range is in stream sequences of all
   * shards, so it bounds this shard's loss from above.
   */
  private async checkGap(): Promise<void> {
    if (this.processedSeq === 0) return
    const info = await this.d.nats.jsm.streams.info(names.telemetry)
    const first = info.state.first_seq
    const from = this.processedSeq + 1
    if (first <= from) return
    const to = first - 1
    const count = to - from + 1
    this.metrics.gaps++
    this.metrics.gapSeqs += count
    this.d.log("shard.gap", { shard: this.d.shard, fromSeq: from, toSeq: to, count })
    const device = `akis-shard-${this.d.shard}`
    const alertId = `${device}:stream_gap:${from}`
    const at = this.d.clock.now()
    const t: AlertTransition = {
      id: `${alertId}:raised:critical`, alertId, device, rule: "stream_gap", kind: "raised", severity: "critical", at, seq: 0,
      message: `stream sequences ${from}..${to} (${count} messages of all shards) expired from ${names.telemetry} before shard ${this.d.shard} read them; its readings among them are lost`,
      values: { fromSeq: from, toSeq: to, count }, channels: [], ruleVersion: 0, recvAt: at,
    }
    this.ctx.publish(alertSubject(t), t, t.id)
  }

  // --- Actors: activation, passivation, ticks, queries ---

  private tick(): void {
    if (this.stopping) return
    // Catching up: time stands at the newest handled arrival; nothing handled yet: wait for it.
    if (!this.caughtUp && this.lastRecvAt === 0) return
    const clock = this.d.clock.now()
    this.ctx.streamSeq = 0
    const published = this.outputs.length
    this.actors.tick(this.caughtUp ? clock : Math.min(clock, this.lastRecvAt))
    // A timer changed state (raised, escalated, cleared): checkpoint it even if no reading comes,
    // or a crash would make the next owner repeat the transition, after JetStream's duplicate
    // window has forgotten its id.
    if (this.outputs.length > published) this.tickChanged = true
    if (this.tickChanged && this.caughtUp && !this.checkpointing && clock - this.lastCheckpointAt >= this.checkpointGapMs) {
      this.tickChanged = false
      this.checkpointIfDue()
    }
  }

  private answer(m: { subject: string; reply?: string; data: Uint8Array; respond(data: Uint8Array): boolean }): void {
    if (!fromRequester(m, rpcSubject(this.d.shard))) return // delivered by a consumer, not asked (guard.ts)
    let reply: ActorReply
    try {
      const req = ActorRequest.fromJson(m.data) // a WireDecodeError names the bad field in the answer
      if (req.kind !== this.d.kind.name) reply = { ok: false, error: "unknown_kind", message: `no actor kind '${req.kind}'` }
      else {
        const state = this.actors.peek(req.id)
        reply = state === undefined
          ? { ok: false, error: "not_found" }
          : { ok: true, shard: this.d.shard, result: this.d.kind.query(state, req.request) }
      }
    } catch (e) {
      reply = { ok: false, error: "bad_request", message: String(e) }
    }
    m.respond(ActorReply.toBytes(reply))
  }

  // --- Checkpoints: snapshot now, wait for outputs, fenced write ---

  private restore(cp: Checkpoint): void {
    this.actors.restore(cp.actors, cp.timers, this.d.clock.now())
    this.caughtUp = false
    this.lastRecvAt = 0
    this.processedSeq = cp.streamSeq
    this.checkpointSeq = cp.streamSeq
    this.lastCheckpointAt = this.d.clock.now()
    this.d.sink.processed(cp.streamSeq)
  }

  private async checkpoint(): Promise<void> {
    const seq = this.processedSeq
    this.lastCheckpointAt = this.d.clock.now()
    const { actors, timers } = this.actors.snapshot(this.lastCheckpointAt)
    const outputs = this.outputs
    this.outputs = []
    await Promise.all(outputs)
    await this.d.sink.flush()
    this.cpRevision = await this.d.checkpoints.write(
      { shard: this.d.shard, streamSeq: seq, epoch: this.d.lease.epoch, owner: this.d.owner, at: this.d.clock.now(), actors, timers },
      this.cpRevision,
    )
    this.checkpointSeq = seq
    this.metrics.checkpoints++
    const bytes = this.d.checkpoints.lastBytes(this.d.shard)
    const rate = this.d.options.checkpointBytesPerSec
    this.checkpointGapMs = Math.max(this.d.options.checkpointMs, rate ? (bytes / rate) * 1000 : 0)
    this.metrics.checkpointBytes = bytes
  }

  private async resetToCheckpoint(): Promise<void> {
    await this.checkpointing
    this.metrics.resets++
    this.outputs = []
    this.outputFailed = undefined
    const { checkpoint, revision } = await this.d.checkpoints.read(this.d.shard)
    if (revision !== this.cpRevision || !checkpoint) throw new LeaseLost({ shard: this.d.shard })
    this.restore(checkpoint)
  }
}
