import { jetstreamManager } from "@nats-io/jetstream"
import { ensureStreams } from "../../runtime/index.ts"
import { startNats, waitFor, type Child } from "../../tests/harness/index.ts"
import { events, ReadingPublisher, spawnCountingNode, testNodeEnv, type NodeEvent } from "../../tests/support/cluster.ts"
import { testTopology } from "../../tests/support/topology.ts"
import type { Benchmark } from "./index.ts"

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const round3 = (x: number) => Math.round(x * 1000) / 1000

/**
 * Failover and planned handoff, with the default timing (heartbeat 1 s, suspicion 3 s,
 * checkpoint 5 s), 3 counting nodes, P=16, readings flowing to every shard every 20 ms.
 * crash: SIGKILL a node; time until every one of its shards has processed a batch on its new owner.
 * planned: SIGTERM (drain) a node; per shard, time from the old owner stopping intake to the new
 * owner's first processed batch; the worst shard of the drain counts.
 */
const benchmark: Benchmark = {
  description: "crash failover time and planned-handoff pause (3 nodes, P=16, default timing)",
  async run({ runs = 3 }) {
    const P = 16
    const ns = await startNats()
    const nc = await ns.connect()
    await ensureStreams(await jetstreamManager(nc), testTopology) // what testNodeEnv configures the nodes with
    const env = testNodeEnv(ns.url, P, { AKIS_NODE__HEARTBEATMS: "1000", AKIS_NODE__SUSPICIONMS: "3000", AKIS_NODE__CHECKPOINTMS: "5000" })
    const nodes: Child[] = []
    let next = 1
    const spawn = () => nodes.push(spawnCountingNode(`b${next++}`, env))
    const progress = (msg: string) => process.stderr.write(`[bench failover] ${msg}\n`)
    const owners = () => {
      const m = new Map<number, Child>()
      for (const c of nodes) {
        if (c.proc.exitCode !== null || c.proc.killed) continue
        const open = new Set<number>()
        for (const e of events(c)) {
          if (e.event === "shard.start") open.add(e.shard!)
          if (e.event === "shard.stop") open.delete(e.shard!)
        }
        for (const s of open) m.set(s, c)
      }
      return m
    }
    const firstAfter = (shard: number, t: number) =>
      nodes.flatMap((c) => events(c)).filter((e: NodeEvent) => e.event === "shard.first" && e.shard === shard && e.t >= t).map((e) => e.t).sort((a, b) => a - b)[0]

    const pub = new ReadingPublisher(nc, P)
    const ids = Array.from({ length: 160 }, (_, i) => `bus-${i}`)
    let publishing = true
    const publisher = (async () => {
      for (let r = 0; publishing && r < 20_000; r++) {
        await pub.round(ids)
        await Bun.sleep(20)
      }
    })()
    const crash: number[] = []
    const planned: number[] = []
    try {
      for (let i = 0; i < 3; i++) spawn()
      await waitFor("3 nodes own all shards", () => owners().size === P && new Set(owners().values()).size === 3, { timeoutMs: 30_000 })
      for (let r = 0; r < runs; r++) {
        // --- crash ---
        const victim = [...new Set(owners().values())][0]!
        const shards = [...owners()].filter(([, c]) => c === victim).map(([s]) => s)
        const t0 = Date.now()
        await victim.kill("SIGKILL")
        const done = await waitFor("crash failover", () => {
          const ts = shards.map((s) => firstAfter(s, t0))
          return ts.every((t) => t !== undefined) ? Math.max(...(ts as number[])) : undefined
        }, { timeoutMs: 30_000, intervalMs: 20 })
        crash.push((done - t0) / 1000)
        progress(`run ${r + 1}/${runs}: crash failover of ${shards.length} shards ${((done - t0) / 1000).toFixed(2)} s`)
        spawn()
        await waitFor("3 nodes again", () => owners().size === P && new Set(owners().values()).size === 3, { timeoutMs: 30_000 })
        await Bun.sleep(1000)
        // --- planned (drain) ---
        const leaver = [...new Set(owners().values())][0]!
        const moving = [...owners()].filter(([, c]) => c === leaver).map(([s]) => s)
        const t1 = Date.now()
        leaver.proc.kill("SIGTERM")
        await leaver.exited
        const pauses = await waitFor("planned handoff", () => {
          const ev = events(leaver)
          const ps = moving.map((s) => {
            const stopping = ev.find((e) => e.event === "shard.stopping" && e.shard === s && e.t >= t1)?.t
            const first = stopping === undefined ? undefined : firstAfter(s, stopping)
            return stopping !== undefined && first !== undefined ? first - stopping : undefined
          })
          return ps.every((p) => p !== undefined) ? (ps as number[]) : undefined
        }, { timeoutMs: 30_000, intervalMs: 20 })
        planned.push(Math.max(...pauses) / 1000)
        progress(`run ${r + 1}/${runs}: planned handoff of ${moving.length} shards, worst pause ${(Math.max(...pauses) / 1000).toFixed(3)} s`)
        spawn()
        await waitFor("3 nodes again", () => owners().size === P && new Set(owners().values()).size === 3, { timeoutMs: 30_000 })
        await Bun.sleep(1000)
      }
    } finally {
      publishing = false
      await publisher.catch(() => {})
      for (const c of nodes) await c.kill("SIGKILL")
      await ns.cleanup()
    }
    return {
      crash_failover_s: round3(median(crash)),
      planned_pause_s: round3(median(planned)),
      runs,
      crash_runs_s: crash.map(round3),
      planned_runs_s: planned.map(round3),
      suspicion_ms: 3000,
      heartbeat_ms: 1000,
      partitions: P,
      targets: { crash_failover_s: 5, planned_pause_s: 1 },
    }
  },
}
export default benchmark
