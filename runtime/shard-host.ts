import type { ActorContext, ActorKind } from "./actor-kind.ts"
import { ActorTable } from "./actor-table.ts"
import { decodeBatch, type ReadingBatch } from "./batch.ts"
import { batchProblem } from "./batch-check.ts"
import type { Checkpoint, Checkpoints } from "./checkpoints.ts"
import { Checkpointer } from "./checkpointer.ts"
import type { Cancel, Clock } from "./clock.ts"
import { LeaseLost } from "./errors.ts"
import type { Lease } from "./leases.ts"
import { deadLetterMessage } from "./nats/dead-letters.ts"
import type { Bus, JetStream, MessageFeed, OrderedConsumer } from "./nats/ports.ts"
import { names } from "./nats/topology.ts"
import { backoffDelay } from "./retry.ts"
import { telemetrySubject } from "./shard.ts"
import { ShardOutputs } from "./shard-outputs.ts"
import { serveShardRpc, type ShardRpc } from "./shard-rpc.ts"
import type { SinkPort } from "./sink-port.ts"
import { gapAlert, streamGap } from "./stream-gap.ts"

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
  /**
   * Longest stretch (wall time) of batch handling before the consume loop yields to timers and
   * I/O (default 10 ms). Deterministic tests on a test clock turn it off (Infinity): a yield by
   * wall time would make where processing stops depend on the machine's speed.
   */
  readonly yieldEveryMs?: number | undefined
}

/** Everything a shard host is given by its node. */
export interface ShardHostDeps {
  readonly shard: number
  readonly lease: Lease
  readonly owner: string
  /** Publishes outputs, reads the shard's telemetry. */
  readonly js: JetStream
  /** Answers actor queries. */
  readonly bus: Bus
  readonly checkpoints: Checkpoints
  readonly kind: ActorKind<unknown>
  readonly sink: SinkPort
  readonly clock: Clock
  readonly log: EventLog
  /** False when this node must stop processing at once (its heartbeats are failing). */
  readonly healthy: () => boolean
  /**
   * Is `lease` still the shard's current lease (nobody took the shard)? Asked once the node is
   * healthy again after a pause; without it, a host that had to pause ends instead (fenced).
   */
  readonly leaseHeld?: (() => Promise<boolean>) | undefined
  readonly options: ShardHostOptions
  /**
   * Called once when the host stopped processing by itself (its node turned unhealthy, or its
   * lease was lost), not through {@link ShardHost.stop}: the node must replace or drop it, or the
   * shard would stay held by a host that reads nothing.
   */
  readonly onEnded?: (() => void) | undefined
}

const encoder = new TextEncoder()
/** Default longest stretch of batch handling before the consume loop yields to timers and I/O. */
const defaultYieldEveryMs = 10
/** How often a paused host looks whether its node is healthy again. */
const pausePollMs = 100
/** Back-off of the consume loop between resets (after an output failure or a lost consumer). */
const resetBackoff = { initialMs: 100, maxMs: 2_000, jitter: 0 } as const

/**
 * Processes one shard while this node holds its lease: restores the last checkpoint, consumes
 * `akis.tlm.<shard>` from the next stream sequence with an ordered consumer, delivers readings in
 * order to virtual actors (the {@link ActorTable}), answers queries ({@link serveShardRpc}), and
 * checkpoints (the {@link Checkpointer}: state + stream position, fenced) once the sink and the
 * outputs ({@link ShardOutputs}) have made everything up to that position durable.
 *
 * --- Ordering constraints ---
 * Batches are handled synchronously one at a time; checkpoints run between batches and wait
 * for alert publishes and the sink, so a checkpoint never claims an effect that is not durable.
 * On any output failure the host drops its in-memory state and resumes from the checkpoint
 * (replay is idempotent: alert msg ids, sink dedup).
 */
export class ShardHost {
  private readonly actors: ActorTable
  private readonly outputs = new ShardOutputs()
  private readonly checkpointer: Checkpointer
  private processedSeq = 0
  private messages: MessageFeed | undefined
  private consumer: OrderedConsumer | undefined
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
  private rpc: ShardRpc | undefined
  private ticker: Cancel | undefined
  private stopping: StopReason | undefined
  private firstBatchLogged = false
  /**
   * Batches of the shard still to read when it last read one (or when its consumer started): the
   * lag its node reports to the gateways (`akis.ctl.lag.<node>`) without asking the server.
   */
  lagBatches = 0
  private stopCalled = false
  ended = false // true once the consume loop has ended (by stop() or by itself)
  private readonly ctx: ActorContext & { streamSeq: number; now: number }
  /** Counters shown by `ops cluster` and metrics. */
  readonly metrics = {
    batches: 0, readings: 0, malformedBatches: 0, checkpoints: 0, checkpointBytes: 0, resets: 0,
    /** Batches copied to AKIS_DLQ (malformed, invalid readings, or an actor that threw). */
    deadLetters: 0,
    /** Readings an actor threw on (their batch is dead-lettered; the other readings went on). */
    poisonReadings: 0,
    gaps: 0, gapSeqs: 0, // times this shard found stream messages expired before it read them, and how many sequences
    /** Times processing paused because the node's heartbeats were failing, and how many of those went on in place. */
    pauses: 0, resumes: 0,
  }

  constructor(private readonly d: ShardHostDeps) {
    const outputs = this.outputs
    this.ctx = {
      now: 0,
      shard: d.shard,
      streamSeq: 0,
      publish(subject, payload, msgId) {
        const data = encoder.encode(JSON.stringify(payload))
        outputs.add(d.js.publish(subject, data, msgId ? { msgId } : undefined))
      },
      store: (batch: ReadingBatch, index: number) => {
        d.sink.add(batch, index, this.ctx.streamSeq)
      },
    }
    this.actors = new ActorTable(d.kind, this.ctx, { actorIdleMs: d.options.actorIdleMs, tickMs: d.options.tickMs })
    this.checkpointer = new Checkpointer({
      shard: d.shard, lease: d.lease, owner: d.owner, checkpoints: d.checkpoints, clock: d.clock, sink: d.sink, outputs,
      snapshot: (now) => this.actors.snapshot(now), version: () => this.actors.version, checkpointMs: d.options.checkpointMs, checkpointBytesPerSec: d.options.checkpointBytesPerSec,
      metrics: this.metrics,
    })
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
    // Fresh from the server (the lag `ops cluster` shows).
    const pending = await this.consumer?.pending().catch(() => undefined)
    return {
      shard: this.d.shard, epoch: this.d.lease.epoch, processedSeq: this.processedSeq, checkpointSeq: this.checkpointer.seq,
      pendingBatches: pending ?? null, lastBatchAgeMs: this.lastRecvAt ? this.d.clock.now() - this.lastRecvAt : null,
      actors: this.actors.live.size, passivated: this.actors.passive.size, timers: this.actors.wakeups.size, sinkPending: this.d.sink.pending,
      ...this.metrics, ...this.actors.metrics,
    }
  }

  /** The query endpoint while the shard is served, for in-process answers (askActor's `local`). */
  get queries(): ShardRpc | undefined { return this.rpc }

  /** Claims the checkpoint, restores actors, starts answering queries and consuming. */
  async start(): Promise<void> {
    const checkpoint = await this.checkpointer.claim()
    this.restore(checkpoint)
    this.rpc = serveShardRpc({ bus: this.d.bus, shard: this.d.shard, kind: this.d.kind, peek: (id) => this.actors.peek(id) })
    this.ticker = this.d.clock.every(this.d.options.tickMs, () => this.tick())
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
    this.ticker?.()
    await this.messages?.close().catch(() => {})
    await this.loop?.catch(() => {})
    this.rpc?.unsubscribe()
    this.rpc = undefined
    await this.checkpointer.running
    let clean = false
    if (reason !== "fenced" && this.stopping !== "fenced") {
      try {
        await this.checkpointer.write(this.processedSeq)
        clean = true
      } catch (e) {
        this.d.log("shard.checkpoint_failed", { shard: this.d.shard, error: String(e) })
      }
    }
    await this.d.sink.close()
    this.d.log("shard.stop", { shard: this.d.shard, epoch: this.d.lease.epoch, reason, processedSeq: this.processedSeq, checkpointSeq: this.checkpointer.seq, clean })
    return clean
  }

  // --- Consume loop: one ordered consumer; resets to the checkpoint on output failure ---

  private async run(): Promise<void> {
    const yieldEveryMs = this.d.options.yieldEveryMs ?? defaultYieldEveryMs
    let attempt = 0
    while (!this.stopping) {
      try {
        await this.checkGap()
        const consumer = (this.consumer = await this.d.js.orderedConsumer(names.telemetry, {
          filterSubject: telemetrySubject(this.d.shard), startSeq: this.processedSeq + 1,
        }))
        if (this.stopping) return
        this.lagBatches = await consumer.pending(true)
        if (this.lagBatches === 0) this.caughtUp = true
        this.messages = await consumer.consume({ maxMessages: 256, expiresMs: 2_000 })
        if (this.stopping) return void (await this.messages.close())
        attempt = 0
        let sliceStart = performance.now()
        for await (const m of this.messages) {
          // Buffered messages resolve as microtasks, so without a yield a full pull buffer is
          // handled in one go, starving timers and sockets (and, past node.watchdogMs, the
          // heartbeats). Give the event loop a turn every few milliseconds.
          if (performance.now() - sliceStart > yieldEveryMs) {
            await new Promise((r) => setImmediate(r))
            sliceStart = performance.now()
          }
          if (this.stopping) break
          this.lagBatches = m.info.pending + 1 // this one is not handled yet (a pause may hold it)
          if (!this.d.healthy()) {
            if (!(await this.pauseWhileUnhealthy())) {
              this.stopping ??= "fenced"
              break
            }
            sliceStart = performance.now()
          }
          this.handle(m.data, m.seq)
          this.lagBatches = m.info.pending
          this.caughtUp = m.info.pending === 0
          if (this.outputs.failed) throw this.outputs.failed
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
        const backoffMs = backoffDelay(resetBackoff, ++attempt)
        this.d.log("shard.reset", { shard: this.d.shard, error: String(e), backoffMs })
        await this.messages?.close().catch(() => {})
        await this.d.clock.sleep(backoffMs)
        await this.resetToCheckpoint().catch((err) => {
          if (err instanceof LeaseLost) this.stopping = "fenced"
        })
      }
    }
  }

  /**
   * The node's heartbeats are failing: this host handles nothing more (self-fencing: another node
   * may soon declare this one dead and take the shard), but keeps its actors and position. Once
   * the node is healthy again, it goes on where it stopped if its lease is still the shard's
   * current one (nobody took the shard meanwhile): no checkpoint restored, nothing replayed.
   * A node starved of CPU for a few seconds (a reconnect storm on a shared machine) used to drop
   * every shard and restore and replay them all, which starved it further. Returns whether the
   * host goes on; false: it ends (fenced, or stopped while paused).
   */
  private async pauseWhileUnhealthy(): Promise<boolean> {
    const since = this.d.clock.now()
    this.metrics.pauses++
    this.d.log("shard.unhealthy", { shard: this.d.shard, epoch: this.d.lease.epoch, processedSeq: this.processedSeq })
    while (!this.d.healthy()) {
      if (this.stopping) return false
      await this.d.clock.sleep(pausePollMs)
    }
    const held = !this.stopping && this.d.leaseHeld !== undefined && (await this.d.leaseHeld().catch(() => false))
    if (!held || this.stopping) return false
    this.metrics.resumes++
    this.d.log("shard.resumed", { shard: this.d.shard, epoch: this.d.lease.epoch, pausedMs: this.d.clock.now() - since })
    return true
  }

  /** Starts a background checkpoint when the gap since the last one has passed (and none is running). */
  private checkpointIfDue(): void {
    if (!this.checkpointer.due(this.d.clock.now())) return
    // Snapshot now, wait for durability and write in the background: intake does not pause.
    this.checkpointer.start(this.processedSeq, (e) => {
      if (e instanceof LeaseLost) {
        this.d.log("shard.fenced", { shard: this.d.shard, epoch: this.d.lease.epoch })
        this.stopping = "fenced"
        void this.messages?.close()
      } else this.d.log("shard.checkpoint_failed", { shard: this.d.shard, error: String(e) })
    })
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
    const m = deadLetterMessage({ source: "tlm", reason, subject: telemetrySubject(this.d.shard), stream: names.telemetry, seq, data: data.slice() }, this.d.clock.now())
    this.outputs.add(this.d.js.publish(m.subject, m.data, { msgId: m.msgId, headers: m.headers }))
  }

  /**
   * Before (re)reading from the checkpoint: were stream messages after it removed (max age or max
   * bytes) before this shard read them? Then readings are lost; say so in metrics, the log and an
   * alert, and go on from the first message still there.
   */
  private async checkGap(): Promise<void> {
    if (this.processedSeq === 0) return
    const gap = streamGap(this.processedSeq, (await this.d.js.streamState(names.telemetry)).firstSeq)
    if (!gap) return
    this.metrics.gaps++
    this.metrics.gapSeqs += gap.count
    this.d.log("shard.gap", { shard: this.d.shard, fromSeq: gap.from, toSeq: gap.to, count: gap.count })
    const { subject, transition } = gapAlert(this.d.shard, names.telemetry, gap, this.d.clock.now())
    this.ctx.publish(subject, transition, transition.id)
  }

  // --- Actors: ticks ---

  private tick(): void {
    // Timers publish alert transitions: none while the node's heartbeats fail (see pauseWhileUnhealthy).
    if (this.stopping || !this.d.healthy()) return
    // Catching up: time stands at the newest handled arrival; nothing handled yet: wait for it.
    if (!this.caughtUp && this.lastRecvAt === 0) return
    const clock = this.d.clock.now()
    this.ctx.streamSeq = 0
    const published = this.outputs.count
    this.actors.tick(this.caughtUp ? clock : Math.min(clock, this.lastRecvAt))
    // A timer changed state (raised, escalated, cleared): checkpoint it even if no reading comes,
    // or a crash would make the next owner repeat the transition, after JetStream's duplicate
    // window has forgotten its id.
    if (this.outputs.count > published) this.tickChanged = true
    if (this.tickChanged && this.caughtUp && this.checkpointer.due(clock)) {
      this.tickChanged = false
      this.checkpointIfDue()
    }
  }

  // --- Restore and reset: from the checkpoint this host last wrote ---

  private restore(cp: Checkpoint): void {
    this.actors.restore(cp.actors, cp.timers, this.d.clock.now())
    this.caughtUp = false
    this.lastRecvAt = 0
    this.processedSeq = cp.streamSeq
    this.checkpointer.restored(cp)
    this.d.sink.processed(cp.streamSeq)
  }

  private async resetToCheckpoint(): Promise<void> {
    this.metrics.resets++
    const checkpoint = await this.checkpointer.reread()
    this.outputs.reset()
    this.restore(checkpoint)
  }
}
