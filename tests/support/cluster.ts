import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/transport-node"
import { join } from "node:path"
import { askActor, BatchBuilder, encodeBatch, ensureStreams, shardOf, telemetrySubject } from "../../runtime/index.ts"
import { spawnChild, waitFor, type Child } from "../harness/index.ts"
import { testTopology, testTopologyEnv } from "./topology.ts"

const root = join(import.meta.dir, "..", "..")

/** Settings every test node gets unless overridden: small P, fast heartbeats. */
export const testNodeEnv = (servers: string | string[], partitions: number, extra: Record<string, string> = {}) => ({
  AKIS_NATS__SERVERS: JSON.stringify(Array.isArray(servers) ? servers : [servers]),
  AKIS_CLUSTER__PARTITIONS: String(partitions),
  AKIS_NODE__HEARTBEATMS: "500",
  AKIS_NODE__SUSPICIONMS: "2000",
  AKIS_NODE__CHECKPOINTMS: "1000",
  ...testTopologyEnv(Number(extra.AKIS_STREAMS__REPLICAS ?? 1)),
  ...extra,
})

/** Spawns a counting node process (tests/support/counting-node.ts). */
export const spawnCountingNode = (id: string, env: Record<string, string>): Child =>
  spawnChild(id, ["bun", join(root, "tests/support/counting-node.ts")], { env: { ...env, AKIS_NODE__ID: id }, cwd: root })

/** One parsed event line of a node. */
export interface NodeEvent {
  readonly t: number
  readonly event: string
  readonly shard?: number
  readonly [k: string]: unknown
}

/** The JSON event lines a node printed. */
export const events = (c: Child): NodeEvent[] =>
  c.output().split("\n").filter((l) => l.startsWith("{")).map((l) => {
    try {
      return JSON.parse(l) as NodeEvent
    } catch {
      return undefined
    }
  }).filter((e): e is NodeEvent => e !== undefined)

/** Ownership intervals [start, end] per shard from a node's events; `killedAt` ends open intervals. */
export const ownership = (node: string, evs: NodeEvent[], killedAt?: number) => {
  const out: Array<{ node: string; shard: number; start: number; end: number }> = []
  const open = new Map<number, number>()
  for (const e of evs) {
    if (e.event === "shard.start") open.set(e.shard!, e.t)
    if (e.event === "shard.stop" && open.has(e.shard!)) {
      out.push({ node, shard: e.shard!, start: open.get(e.shard!)!, end: e.t })
      open.delete(e.shard!)
    }
  }
  for (const [shard, start] of open) out.push({ node, shard, start, end: killedAt ?? Number.POSITIVE_INFINITY })
  return out
}

/**
 * Publishes readings for `ids` in batches per shard, each reading exactly once (awaited PubAck),
 * and returns how many readings each id got.
 */
export class ReadingPublisher {
  readonly sent = new Map<string, number>()
  private readonly js: JetStreamClient
  private seq = new Map<string, number>()
  private rounds = 0

  private readonly id = Math.random().toString(36).slice(2, 10)

  constructor(nc: NatsConnection, private readonly partitions: number) {
    this.js = jetstream(nc)
  }

  /** Publishes one reading per id, grouped into one batch per shard. */
  async round(ids: ReadonlyArray<string>): Promise<void> {
    const builders = new Map<number, BatchBuilder>()
    for (const id of ids) {
      const s = shardOf(id, this.partitions)
      let b = builders.get(s)
      if (!b) builders.set(s, (b = new BatchBuilder(2, 1)))
      const seq = (this.seq.get(id) ?? 0) + 1
      this.seq.set(id, seq)
      b.push(id, seq, Date.now(), [seq, 1])
    }
    const round = ++this.rounds
    await Promise.all([...builders].map(async ([s, b]) => {
      const batch = b.take(Date.now())
      const data = encodeBatch(batch)
      // Retried with the same msg id (JetStream drops the duplicate) across NATS failovers.
      for (let attempt = 1; ; attempt++) {
        try {
          await this.js.publish(telemetrySubject(s), data, { timeout: 5_000, msgID: `${this.id}-${round}-${s}` })
          break
        } catch (e) {
          if (attempt >= 10) throw e
          await Bun.sleep(250 * attempt)
        }
      }
      for (const id of batch.ids) this.sent.set(id, (this.sent.get(id) ?? 0) + 1)
    }))
  }
}

/** Creates akis's streams with the test limits, as a node would (R`replicas`). */
export const createTestStreams = async (nc: NatsConnection, replicas = 1): Promise<void> =>
  ensureStreams(await jetstreamManager(nc), { ...testTopology, replicas })

/**
 * Waits until every counting actor in `ids` has counted exactly `expected(id)` readings
 * (nothing lost, nothing counted twice), asking each actor's current owner.
 */
export const waitForCounts = (
  nc: NatsConnection, partitions: number, ids: ReadonlyArray<string>, expected: (id: string) => number, timeoutMs: number,
) =>
  waitFor("every count equals what was sent", async () => {
    for (const id of ids) {
      const r = await askActor<{ count: number }>(nc, partitions, "counter", id, {}, { timeoutMs: 5_000 })
      if (r.count !== expected(id)) return false
    }
    return true
  }, { timeoutMs, intervalMs: 500 })
