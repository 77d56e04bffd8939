import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { join } from "node:path"
import { spawnChild, startNats, waitFor, type NatsServer } from "./harness/index.ts"
import { ReadingPublisher, spawnCountingNode, testNodeEnv } from "./support/cluster.ts"

const P = 8
const root = join(import.meta.dir, "..")
let ns: NatsServer

beforeAll(async () => {
  ns = await startNats()
})
afterAll(async () => ns.cleanup())

const ops = async (args: string[], env: Record<string, string>) => {
  const c = spawnChild("ops", ["bun", join(root, "ops/cli.ts"), ...args], { env, cwd: root })
  const code = await c.exited
  return { code, out: c.output() }
}

describe("ops cluster / ops drain", () => {
  test("shows every member and every shard's owner, and a drained node hands its shards over", async () => {
    const env = testNodeEnv(ns.url, P)
    const a = spawnCountingNode("ops-a", env)
    const b = spawnCountingNode("ops-b", env)
    const view = async () => JSON.parse((await ops(["cluster", "--json"], env)).out.trim().split("\n").pop()!) as {
      members: Array<{ id: string; alive: boolean; shards: number }>
      shards: Array<{ shard: number; owner: string | null; processedSeq: number | null }>
      unowned: number[]
    }
    await waitFor("both nodes own shards", async () => {
      const v = await view()
      return v.unowned.length === 0 && v.members.filter((m) => m.alive && m.shards > 0).length === 2
    }, { timeoutMs: 30_000, intervalMs: 500 })
    const pub = new ReadingPublisher(await ns.connect(), P)
    await pub.round(Array.from({ length: 40 }, (_, i) => `d${i}`))
    await waitFor("positions visible", async () => (await view()).shards.every((s) => (s.processedSeq ?? 0) > 0), { timeoutMs: 15_000, intervalMs: 300 })

    const text = await ops(["cluster"], env)
    expect(text.code).toBe(0)
    expect(text.out).toContain("ops-a")
    expect(text.out).toMatch(/shards \(P=8, 8 owned\)/)

    const streams = JSON.parse((await ops(["streams", "--json"], env)).out.trim().split("\n").pop()!) as Array<{ stream: string; messages: number }>
    expect(streams.find((x) => x.stream === "AKIS_TLM")!.messages).toBeGreaterThan(0)
    expect(streams.map((x) => x.stream)).toContain("KV_akis_shards")
    expect((await ops(["consumers"], env)).out).toContain("AKIS_TLM")
    const kv = await ops(["kv", "akis_shards"], env)
    expect(kv.out).toMatch(/shard\.0\s+\d+\s+PUT/)
    expect(kv.out).toContain('"owner":"ops-')
    expect(JSON.parse((await ops(["actor", "counter/d3", "--json"], env)).out.trim().split("\n").pop()!)).toEqual({ count: 1, seqSum: 1 })
    const bad = await ops(["actor", "nonsense"], env)
    expect(bad.code).not.toBe(0)
    expect(bad.out).toContain("is not an actor address")

    const d = await ops(["drain", "--node", "ops-a"], env)
    expect(d.out).toContain("draining ops-a")
    expect(await a.exited).toBe(0)
    await waitFor("ops-b owns everything", async () => (await view()).shards.every((s) => s.owner === "ops-b"), { timeoutMs: 15_000, intervalMs: 300 })

    const missing = await ops(["drain", "--node", "nope"], env)
    expect(missing.code).not.toBe(0)
    expect(missing.out).toContain("node nope did not answer")
    await b.kill("SIGTERM")
  }, 90_000)
})
