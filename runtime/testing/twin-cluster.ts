/**
 * An in-process cluster on the in-memory twins, for deterministic failover tests: shared KV
 * buckets, JetStream and core bus; nodes run the production wiring ({@link runNode}), each with
 * its own {@link TestClock} and {@link Link}, stepped together by {@link TwinCluster.advance}.
 * Nothing waits on wall time: the same steps give the same result every run.
 */
import type { ActorKind } from "../actor-kind.ts"
import { encodeBatch } from "../batch.ts"
import { TestClock } from "../clock.ts"
import { MemoryBlobStore } from "../nats/memory-blob-store.ts"
import { MemoryBus } from "../nats/memory-bus.ts"
import { MemoryJetStream } from "../nats/memory-jetstream.ts"
import { MemoryKv } from "../nats/memory-kv.ts"
import { definitions, type StreamDef } from "../nats/topology.ts"
import { runNode, type AkisNode, type NodeOptions } from "../node.ts"
import { shardOf, telemetrySubject } from "../shard.ts"
import type { SinkPort } from "../sink-port.ts"
import { Link, linkBus, linkJetStream, linkKv } from "./twin-link.ts"

/** One logged event, on the cluster's timeline. */
export interface Logged {
  readonly node: string
  readonly at: number
  readonly event: string
  readonly fields: Record<string, unknown>
}

/** A node of the twin cluster. */
export interface TwinNode {
  readonly id: string
  readonly clock: TestClock
  /** The control connection: heartbeats and leases. */
  readonly control: Link
  /** The data connection: checkpoints, JetStream, requests. */
  readonly data: Link
  readonly node: AkisNode
  /** A frozen node's timers do not fire and its clock stands (a stopped process). */
  frozen: boolean
  /** A node whose timers run late: its clock moves, its timers do not fire (a busy event loop). */
  late: boolean
}

const start = 1_795_000_000_000

export class TwinCluster {
  readonly clock = new TestClock(start)
  readonly members = new MemoryKv()
  readonly shards = new MemoryKv()
  readonly snapshots = new MemoryKv()
  readonly objects = new MemoryBlobStore()
  readonly js: MemoryJetStream
  readonly bus = new MemoryBus(this.clock)
  readonly nodes = new Map<string, TwinNode>()
  readonly log: Logged[] = []

  constructor(readonly options: Omit<NodeOptions, "id">) {
    const streams = definitions.filter((d): d is StreamDef => d.kind === "stream")
    this.js = new MemoryJetStream(streams.map((s) => ({ name: s.name, subjects: s.subjects, duplicateWindowMs: s.duplicateWindowSec * 1000 })), this.clock)
  }

  /** Starts a node with `kind` (a fresh instance per node is up to the caller). */
  async add(id: string, kind: ActorKind<unknown>, sinkFor?: (shard: number, fence: () => Promise<boolean>) => SinkPort): Promise<TwinNode> {
    const clock = new TestClock(this.clock.now())
    const control = new Link()
    const data = new Link()
    const log = (event: string, fields: Record<string, unknown>) => this.log.push({ node: id, at: this.clock.now(), event, fields })
    const node = await runNode({ ...this.options, id }, { kind, clock, log, sinkFor }, {
      members: linkKv(this.members, control),
      shards: linkKv(this.shards, control),
      snapshots: linkKv(this.snapshots, data),
      snapshotObjects: this.objects,
      js: linkJetStream(this.js, data),
      bus: linkBus(this.bus, data),
      close: async () => {},
    }, { pid: 1, host: "twin" })
    const n: TwinNode = { id, clock, control, data, node, frozen: false, late: false }
    this.nodes.set(id, n)
    await this.settle()
    return n
  }

  /** Moves every clock forward by `ms` in steps, letting each node and the twins run after each. */
  async advance(ms: number, step = 50): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      const d = Math.min(step, ms - t)
      await this.settle()
      await this.clock.advance(d)
      for (const n of this.nodes.values()) {
        if (n.frozen) continue
        if (n.late) n.clock.jumpTo(this.clock.now())
        else await n.clock.advanceTo(this.clock.now())
        await this.settle()
      }
    }
  }

  /** Kills a node: it reaches nothing and its timers stop (a crashed process). */
  crash(n: TwinNode): void {
    n.frozen = true
    n.control.cut()
    n.data.cut()
  }

  /** Stops a node where it is (SIGSTOP): its timers stop and everything it sends or receives waits. */
  freeze(n: TwinNode): void {
    n.frozen = true
    n.control.pause()
    n.data.pause()
  }

  /**
   * Lets a frozen node go on: its clock jumps to the cluster's time, what it received meanwhile is
   * delivered (at the new time), then its overdue timers fire. With `control: false` its control
   * connection (heartbeats, leases) stays stopped: only the data side goes on.
   */
  async thaw(n: TwinNode, o: { readonly control?: boolean } = {}): Promise<void> {
    n.frozen = false
    n.clock.jumpTo(this.clock.now())
    if (o.control !== false) n.control.resume()
    n.data.resume()
    await this.settle()
    await n.clock.advance(0)
    await this.settle()
  }

  /** Publishes one reading of `device` with `seq` as a one-reading batch on its shard's subject. */
  async send(device: string, seq: number): Promise<void> {
    const at = this.clock.now()
    const batch = encodeBatch({
      ids: [device], seqs: Float64Array.of(seq), ts: Float64Array.of(at), width: 0, values: new Float64Array(0), schema: 1, recvAt: at,
    })
    await this.js.publish(telemetrySubject(shardOf(device, this.options.partitions)), batch)
  }

  /** Which node holds each shard now (its host running). */
  owners(): Array<string | undefined> {
    return Array.from({ length: this.options.partitions }, (_, s) =>
      [...this.nodes.values()].find((n) => !n.frozen && !n.data.down && n.node.hosts().get(s)?.ended === false)?.id)
  }

  /** Events named `event`, optionally of one node. */
  events(event: string, node?: string): Logged[] {
    return this.log.filter((e) => e.event === event && (node === undefined || e.node === node))
  }

  /** Bumped by test actors on every reading, so {@link settle} sees processing as progress. */
  activity = 0

  /**
   * Lets promise chains and twin deliveries run until nothing moves for a few event-loop turns
   * (no time passes). Waiting for quiescence, not for a number of turns, keeps the result
   * independent of where a shard host yields (it yields by wall time under load).
   */
  async settle(): Promise<void> {
    let last = ""
    for (let stable = 0, i = 0; stable < 5 && i < 10_000; i++) {
      await new Promise((r) => setImmediate(r))
      const sig = `${this.activity}/${this.log.length}/${this.members.revision}/${this.shards.revision}/${this.snapshots.revision}/${this.js.totalSeq}`
      stable = sig === last ? stable + 1 : 0
      last = sig
    }
  }

  async stop(): Promise<void> {
    for (const n of this.nodes.values()) {
      for (const l of [n.control, n.data]) {
        l.heal()
        l.resume()
      }
      n.frozen = false
    }
    await Promise.all([...this.nodes.values()].map((n) => n.node.stop()))
  }
}
