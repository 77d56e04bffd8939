import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import type { NatsConnection } from "@nats-io/transport-node"
import { askActor } from "../runtime/index.ts"
import { startNats, waitFor, type Child, type NatsServer } from "./harness/index.ts"
import { createTestStreams, events, ownership, ReadingPublisher, spawnCountingNode, testNodeEnv, waitForCounts } from "./support/cluster.ts"

const P = 16
let ns: NatsServer
let nc: NatsConnection

beforeAll(async () => {
  ns = await startNats()
  nc = await ns.connect()
  await createTestStreams(nc)
})
afterAll(async () => ns.cleanup())

/** Shards that some live node has started and not stopped, and the live nodes that hold none. */
const ownedShards = (nodes: Map<string, Child>, dead: Set<string>) => {
  const owned = new Set<number>()
  const idle: string[] = []
  for (const [name, c] of nodes) {
    if (dead.has(name)) continue
    const held = ownership(name, events(c)).filter((iv) => iv.end === Number.POSITIVE_INFINITY)
    for (const iv of held) owned.add(iv.shard)
    if (held.length === 0) idle.push(name)
  }
  return { owned, idle }
}

describe("cluster under churn", () => {
  test("joins, a drain and 5 SIGKILLs lose nothing, count nothing twice, and never give a shard two owners", async () => {
    const env = testNodeEnv(ns.url, P)
    const nodes = new Map<string, Child>()
    const dead = new Set<string>()
    const killedAt = new Map<string, number>()
    let next = 1
    const spawn = () => {
      const name = `n${next++}`
      nodes.set(name, spawnCountingNode(name, env))
      return name
    }
    // Settled: every shard has a live owner and every live node holds its share. Only "every shard
    // owned" is not enough: a node still starting up is not yet a member, so its peers can cover
    // all shards without it, and killing it then forces no failover.
    const allOwned = (what: string) =>
      waitFor(what, () => {
        const { owned, idle } = ownedShards(nodes, dead)
        return owned.size === P && idle.length === 0
      }, { timeoutMs: 20_000 })
    for (let i = 0; i < 3; i++) spawn()
    await allOwned("3 nodes own every shard")

    // Publish continuously while the cluster churns (bounded: at most 1200 rounds).
    const pub = new ReadingPublisher(nc, P)
    const ids = Array.from({ length: 200 }, (_, i) => `bus-${String(i).padStart(4, "0")}`)
    let publishing = true
    const publisher = (async () => {
      for (let r = 0; publishing && r < 1200; r++) {
        await pub.round(ids)
        await Bun.sleep(20)
      }
    })()

    /** Shards each killed node owned at its kill: every kill must hit a node doing work. */
    const ownedAtKill = new Map<string, number>()
    const kill = async (name: string) => {
      ownedAtKill.set(name, ownership(name, events(nodes.get(name)!)).filter((iv) => iv.end === Number.POSITIVE_INFINITY).length)
      killedAt.set(name, Date.now())
      dead.add(name)
      await nodes.get(name)!.kill("SIGKILL")
    }
    const live = () => [...nodes.keys()].filter((n) => !dead.has(n))
    const settle = async (what: string) => {
      await Bun.sleep(300) // let readings flow between faults
      await allOwned(what)
    }

    await kill("n1")
    spawn() // n4 joins
    await settle("after kill 1 + join")
    await kill("n2")
    await settle("after kill 2")
    spawn() // n5
    await settle("after join")
    const drained = "n3"
    await nodes.get(drained)!.kill("SIGTERM")
    await waitFor("n3 drained", async () => (await nodes.get(drained)!.exited) === 0)
    dead.add(drained)
    await settle("after drain")
    for (let k = 3; k <= 5; k++) {
      spawn()
      await settle(`after join before kill ${k}`)
      await kill(live()[0]!)
      await settle(`after kill ${k}`)
    }
    publishing = false
    await publisher

    // Five SIGKILLs, each of a node that owned shards then (so each forced a failover).
    expect([...ownedAtKill.values()].filter((n) => n > 0).length).toBe(5)
    // Every id's count equals what was sent: nothing lost, nothing counted twice.
    await waitForCounts(nc, P, ids, (id) => pub.sent.get(id)!, 30_000)
    for (const id of ids) {
      expect(await askActor(nc, P, "counter", id)).toEqual({ count: pub.sent.get(id)!, seqSum: (pub.sent.get(id)! * (pub.sent.get(id)! + 1)) / 2 })
    }

    // Ownership intervals of one shard never overlap across nodes.
    const intervals = [...nodes].flatMap(([name, c]) => ownership(name, events(c), killedAt.get(name)))
    for (let s = 0; s < P; s++) {
      const iv = intervals.filter((i) => i.shard === s).sort((a, b) => a.start - b.start)
      for (let i = 1; i < iv.length; i++) {
        if (iv[i]!.start < iv[i - 1]!.end) throw new Error(`shard ${s} had two owners: ${JSON.stringify(iv[i - 1])} and ${JSON.stringify(iv[i])}`)
      }
    }
    for (const n of live()) await nodes.get(n)!.kill("SIGTERM")
  }, 180_000)
})
