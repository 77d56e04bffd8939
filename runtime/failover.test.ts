/**
 * Failover on the in-memory twins and test clocks, through the production wiring (runNode,
 * Coordinator, ShardHost, Membership, Leases, Checkpoints): crash and takeover, planned handoff,
 * self-fencing of a partitioned node, a zombie owner after its lease was taken. Deterministic:
 * no wall-clock waits, and a scenario run twice gives the same event log.
 */
import { afterEach, describe, expect, test } from "bun:test"
import type { ActorKind } from "./actor-kind.ts"
import { Checkpoints } from "./checkpoints.ts"
import { names } from "./nats/topology.ts"
import { lagReport } from "./node.ts"
import { LagReport } from "./wire.ts"
import { rpcSubject, shardOf } from "./shard.ts"
import { noopSink, type SinkPort } from "./sink-port.ts"
import { TwinCluster, type TwinNode } from "./testing/twin-cluster.ts"

const P = 4
const options = {
  roles: ["worker"], partitions: P, servers: [], heartbeatMs: 1_000, suspicionMs: 3_000,
  replicas: 1, telemetryMaxAgeHours: 1, alertsMaxAgeHours: 1,
  host: { checkpointMs: 500, actorIdleMs: 600_000, tickMs: 1_000, maxPendingRows: 1_000_000, yieldEveryMs: Infinity },
}
const devices = Array.from({ length: 12 }, (_, i) => `dev-${i}`)

/** Who handled which reading when (cluster time), across every node. */
interface Handled {
  readonly node: string
  readonly shard: number
  readonly device: string
  readonly seq: number
  readonly at: number
}

/**
 * The test actor: keeps every seq it was handed (a repeat or a gap shows in the list) and
 * publishes one output per reading with a deterministic msg id (replays are deduped by the stream).
 */
const seqsKind = (node: string, c: TwinCluster, handled: Handled[]): ActorKind<{ seqs: number[] }> => ({
  name: "seqs",
  create: () => ({ seqs: [] }),
  onReading(s, b, i, ctx) {
    const device = b.ids[i]!
    const seq = b.seqs[i]!
    s.seqs.push(seq)
    handled.push({ node, shard: ctx.shard, device, seq, at: c.clock.now() })
    c.activity++
    ctx.publish(`akis.alerts.test.${device}`, { seq }, `${device}:${seq}`)
  },
  snapshot: (s) => [...s.seqs],
  restore: (_id, snap) => ({ seqs: [...(snap as number[])] }),
  query: (s) => ({ seqs: s.seqs }),
})

let cluster: TwinCluster | undefined
afterEach(async () => {
  await cluster?.stop()
  cluster = undefined
})

const setup = async (ids: string[], sinkFor?: (node: string) => ((shard: number) => SinkPort) | undefined) => {
  const c = (cluster = new TwinCluster(options))
  const handled: Handled[] = []
  const nodes: TwinNode[] = []
  for (const id of ids) nodes.push(await c.add(id, seqsKind(id, c, handled) as ActorKind<unknown>, sinkFor?.(id)))
  await c.advance(2_000) // heartbeats seen, placement settled, leases taken
  return { c, handled, nodes }
}

/** Sends seq `from..to` of every device, one round per `everyMs`. */
const sendRounds = async (c: TwinCluster, from: number, to: number, everyMs = 100) => {
  for (let seq = from; seq <= to; seq++) {
    for (const d of devices) await c.send(d, seq)
    await c.advance(everyMs)
  }
}

/** Every device's seqs as the actor holds them now, asked through the RPC endpoint of the shard's owner. */
const stateOf = async (c: TwinCluster, device: string): Promise<number[]> => {
  const req = new TextEncoder().encode(JSON.stringify({ kind: "seqs", id: device, request: {} }))
  const answer = c.bus.request(rpcSubject(shardOf(device, P)), req, 1_000)
  await c.settle()
  const reply = JSON.parse(new TextDecoder().decode(await answer)) as { ok: boolean; result: { seqs: number[] } }
  expect(reply.ok).toBe(true)
  return reply.result.seqs
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

/** Exactly once in effect: every seq once (as a set: no repeat, none missing), in every actor and in the outputs. */
const expectExactlyOnce = async (c: TwinCluster, n: number) => {
  for (const d of devices) {
    const seqs = await stateOf(c, d)
    expect(new Set(seqs).size).toBe(seqs.length) // nothing doubled
    expect([...new Set(seqs)].sort((a, b) => a - b)).toEqual(range(n)) // nothing lost
  }
  const ids = c.js.messages(names.alerts).map((m) => m.msgId!)
  expect(new Set(ids).size).toBe(ids.length)
  expect(new Set(ids)).toEqual(new Set(devices.flatMap((d) => range(n).map((s) => `${d}:${s}`))))
}

describe("failover on the twins", () => {
  test("two nodes share the shards and every reading is handled once", async () => {
    const { c } = await setup(["a", "b"])
    expect(c.owners().sort()).toEqual(["a", "a", "b", "b"])
    await sendRounds(c, 1, 10)
    await c.advance(1_000)
    await expectExactlyOnce(c, 10)
  })

  /** Crash of `a` after some checkpoints, readings keep coming; returns what the test checks. */
  const crashScenario = async () => {
    const { c, handled, nodes: [a, b] } = await setup(["a", "b"])
    const aShards = a!.node.hosted()
    await sendRounds(c, 1, 10) // a checkpoints every 500 ms meanwhile
    const checkpointed = new Map<number, number>()
    for (const s of aShards) checkpointed.set(s, (await new Checkpoints(c.snapshots).head(s)).head!.streamSeq)
    c.crash(a!)
    await sendRounds(c, 11, 20)
    await c.advance(5_000) // > suspicion: b takes a's shards and catches up
    return { c, handled, a: a!, b: b!, aShards, checkpointed }
  }

  test("each worker node reports its most lagging shard every heartbeat (akis.ctl.lag.<node>); a crashed one falls silent", async () => {
    const { c, nodes } = await setup(["a", "b"])
    const reports: Array<{ subject: string; report: ReturnType<typeof LagReport.fromJson> }> = []
    c.bus.subscribe("akis.ctl.lag.>", (m) => reports.push({ subject: m.subject, report: LagReport.fromJson(m.data) }))
    await c.advance(2_000)
    const of = (node: string) => reports.filter((r) => r.report.node === node)
    for (const n of nodes) {
      expect(of(n.id).length).toBe(2)
      expect(of(n.id).every((r) => r.subject === `akis.ctl.lag.${n.id}` && r.report.lagBatches === 0)).toBe(true)
      expect(n.node.hosted()).toContain(of(n.id)[0]!.report.shard!)
    }
    c.crash(nodes[0]!)
    reports.length = 0
    await c.advance(2_000)
    expect([of("a").length, of("b").length]).toEqual([0, 2])
  })

  test("the lag report names the host furthest behind", () => {
    expect(lagReport("n", [{ shard: 0, lagBatches: 3 }, { shard: 5, lagBatches: 40 }, { shard: 2, lagBatches: 7 }])).toEqual({ node: "n", lagBatches: 40, shard: 5 })
    expect(lagReport("n", [])).toEqual({ node: "n", lagBatches: 0, shard: null })
  })

  test("crash and takeover: the survivor resumes from the checkpointed position, nothing lost or doubled", async () => {
    const { c, a, aShards, checkpointed } = await crashScenario()
    expect(aShards.length).toBe(2)
    expect(c.owners()).toEqual(["b", "b", "b", "b"])
    for (const s of aShards) {
      const cp = (await new Checkpoints(c.snapshots).head(s)).head!
      expect(cp.owner).toBe("b")
      expect(cp.epoch).toBe(2)
      // b resumed right after a's last checkpoint, not from the stream's start
      expect(checkpointed.get(s)!).toBeGreaterThan(0)
      const start = c.events("shard.start", "b").find((e) => e.fields.shard === s)!
      expect(start.fields.fromSeq).toBe(checkpointed.get(s)! + 1)
    }
    expect(a.node.hosted()).toEqual(aShards) // the dead node never learnt anything (it is gone)
    await expectExactlyOnce(c, 20)
  })

  test("the same crash gives the same events every run", async () => {
    const run = async () => {
      const { c, handled } = await crashScenario()
      const log = c.log.map((e) => `${e.at} ${e.node} ${e.event} ${JSON.stringify(e.fields)}`)
      const h = handled.map((x) => `${x.at} ${x.node} ${x.device}:${x.seq}`)
      await c.stop()
      cluster = undefined
      return { log, h }
    }
    const first = await run()
    const second = await run()
    expect(second.log).toEqual(first.log)
    expect(second.h).toEqual(first.h)
  })

  test("planned handoff: a draining node hands over with a final checkpoint, the next owner replays nothing", async () => {
    const { c, handled, nodes: [a] } = await setup(["a", "b"])
    const aShards = a!.node.hosted()
    await sendRounds(c, 1, 10)
    const drained = a!.node.drain()
    await c.advance(200)
    await drained
    await sendRounds(c, 11, 15)
    await c.advance(1_000)
    expect(c.owners()).toEqual(["b", "b", "b", "b"])
    for (const s of aShards) {
      const stop = c.events("shard.stop", "a").find((e) => e.fields.shard === s)!
      expect(stop.fields.reason).toBe("drain")
      expect(stop.fields.clean).toBe(true)
      const start = c.events("shard.start", "b").find((e) => e.fields.shard === s)!
      expect(start.fields.fromSeq).toBe((stop.fields.processedSeq as number) + 1)
    }
    // each reading of a's shards was handled once in all: no replay after a clean handoff
    const keys = handled.filter((h) => aShards.includes(h.shard)).map((h) => `${h.device}:${h.seq}`)
    expect(new Set(keys).size).toBe(keys.length)
    await expectExactlyOnce(c, 15)
  })

  test("self-fencing: a node whose heartbeats stop reaching KV stops processing before its lease can be taken", async () => {
    const { c, handled, nodes: [a, b] } = await setup(["a", "b"])
    const aShards = a!.node.hosted()
    await sendRounds(c, 1, 5)
    const cutAt = c.clock.now()
    a!.control.cut() // heartbeats and leases fail; a's data connection still delivers readings
    let unhealthySince: number | undefined
    for (let seq = 6; seq <= 60; seq++) { // 5.5 s of readings
      if (!a!.node.membership.healthy()) unhealthySince ??= c.clock.now()
      await sendRounds(c, seq, seq)
    }
    // a handled nothing that arrived once it knew its heartbeats were failing
    expect(unhealthySince).toBeDefined()
    expect(handled.filter((h) => h.node === "a" && h.at >= unhealthySince!)).toEqual([])
    const lastByA = Math.max(...handled.filter((h) => h.node === "a" && aShards.includes(h.shard)).map((h) => h.at))
    const takeovers = c.events("shard.start", "b").filter((e) => aShards.includes(e.fields.shard as number))
    expect(takeovers.length).toBe(aShards.length)
    const firstTakeover = Math.min(...takeovers.map((e) => e.at))
    expect(lastByA).toBeLessThan(firstTakeover) // never two owners processing at once
    expect(lastByA).toBeLessThan(cutAt + options.suspicionMs - options.heartbeatMs + options.heartbeatMs) // fenced within a heartbeat of the bound
    expect(c.events("shard.unhealthy", "a").length + c.events("shard.stopping", "a").length).toBeGreaterThan(0)
    expect(b!.node.hosted()).toEqual([0, 1, 2, 3])
    // healed: a heartbeats again and placement gives it shards back; still exactly once
    a!.control.heal()
    await c.advance(4_000)
    await sendRounds(c, 61, 62)
    await c.advance(1_000)
    expect(c.owners().filter((o) => o === "a").length).toBe(2)
    await expectExactlyOnce(c, 62)
  })

  test("self-fencing under load: with its timers running late, a node still stops processing by itself before its lease can be taken", async () => {
    const { c, handled, nodes: [a] } = await setup(["a", "b"])
    const aShards = a!.node.hosted()
    await sendRounds(c, 1, 5)
    a!.control.cut() // heartbeat acks do not come back...
    a!.late = true // ...and its timers (heartbeats, reconcile) do not run: only readings are handled
    let unhealthySince: number | undefined
    for (let seq = 6; seq <= 50; seq++) {
      if (!a!.node.membership.healthy()) unhealthySince ??= c.clock.now()
      await sendRounds(c, seq, seq)
    }
    expect(unhealthySince).toBeDefined()
    expect(handled.filter((h) => h.node === "a" && h.at >= unhealthySince!)).toEqual([])
    expect(c.events("shard.unhealthy", "a").length).toBe(aShards.length)
    const firstTakeover = Math.min(...c.events("shard.start", "b").filter((e) => aShards.includes(e.fields.shard as number)).map((e) => e.at))
    expect(Math.max(...handled.filter((h) => h.node === "a").map((h) => h.at))).toBeLessThan(firstTakeover)
    a!.late = false
    a!.control.heal()
    await c.advance(4_000)
    await sendRounds(c, 51, 52)
    await c.advance(1_000)
    await expectExactlyOnce(c, 52)
  })

  test("zombie: an owner stopped mid-checkpoint resumes after its lease was taken, and its checkpoint write is fenced", async () => {
    let hold: Promise<void> | undefined
    let release = () => {}
    const gated = (): SinkPort => ({ ...noopSink(), flush: () => hold ?? Promise.resolve() })
    const { c, nodes: [a, b] } = await setup(["a", "b"], (id) => (id === "a" ? () => gated() : undefined))
    const s = a!.node.hosted()[0]!
    await sendRounds(c, 1, 5)
    hold = new Promise((r) => (release = r)) // a's next checkpoint waits for its sink...
    await sendRounds(c, 6, 8)
    c.freeze(a!) // ...and the process stops there (GC pause, SIGSTOP)
    await sendRounds(c, 9, 20)
    await c.advance(5_000) // b sees a dead and takes its shards, claims their checkpoints
    expect(b!.node.hosted()).toEqual([0, 1, 2, 3])
    const before = (await new Checkpoints(c.snapshots).head(s)).head!
    expect(before.owner).toBe("b")
    hold = undefined
    release()
    // a goes on, its control connection still stopped (no heartbeat, no lease change can help
    // it): the checkpoint it snapshotted as epoch 1 is written now, against a stale revision
    await c.thaw(a!, { control: false })
    await c.advance(1_000)
    expect(c.events("shard.fenced", "a").filter((e) => e.fields.shard === s).length).toBe(1)
    const stop = c.events("shard.stop", "a").find((e) => e.fields.shard === s)!
    expect(stop.fields.clean).toBe(false)
    const after = (await new Checkpoints(c.snapshots).head(s)).head!
    expect(after.owner).toBe("b") // a's write did not land
    expect(after.epoch).toBe(2)
    expect(after.streamSeq).toBeGreaterThanOrEqual(before.streamSeq)
    expect(a!.node.hosts().has(s)).toBe(false)
    a!.control.resume() // a heartbeats again and may get shards back, from b's checkpoints
    await c.advance(4_000)
    await sendRounds(c, 21, 22)
    await c.advance(1_000)
    await expectExactlyOnce(c, 22)
  })
})
