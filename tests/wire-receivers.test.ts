/**
 * Every receiving end of the wire protocol (runtime/wire.ts) given a malformed message: it is
 * answered with the problem, or counted and left out, and the receiver goes on working.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Kvm, type KV } from "@nats-io/kv"
import type { NatsConnection } from "@nats-io/transport-node"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { kvAuditLog, kvTokenStore } from "../gateway/http/index.ts"
import { askHistory, historySubject, serveHistory } from "../ops/lib/history-service.ts"
import { Checkpoints, checkpointCodec } from "../runtime/checkpoints.ts"
import { askActor, shardOf, systemClock } from "../runtime/index.ts"
import { Leases } from "../runtime/leases.ts"
import { Membership } from "../runtime/membership.ts"
import { natsKv } from "../runtime/nats/kv.ts"
import { natsBus } from "../runtime/nats/bus.ts"
import { ActorReply, LeaseRecord, NodeStats, TokenRecordMessage, WireDecodeError } from "../runtime/wire.ts"
import { startNats, waitFor, type Child, type NatsServer } from "./harness/index.ts"
import { createTestStreams, events, ReadingPublisher, spawnCountingNode, testNodeEnv } from "./support/cluster.ts"

const P = 2
let ns: NatsServer
let nc: NatsConnection
let n1: Child
const kvm = () => new Kvm(nc)

beforeAll(async () => {
  ns = await startNats()
  nc = await ns.connect()
  await createTestStreams(nc)
  n1 = spawnCountingNode("n1", testNodeEnv(ns.url, P))
  await waitFor("n1 holds all shards", () => events(n1).filter((e) => e.event === "shard.start").length === P, { timeoutMs: 20_000 })
  await new ReadingPublisher(nc, P).round(["dev-1"])
  await waitFor("dev-1 counted", async () => (await askActor<{ count: number }>(nc, P, "counter", "dev-1")).count === 1)
}, 60_000)
afterAll(async () => {
  await n1?.kill("SIGTERM")
  await ns.cleanup()
})

describe("a node", () => {
  test("answers a malformed actor query with bad_request naming the field, and goes on answering", async () => {
    const subject = `akis.rpc.${shardOf("dev-1", P)}`
    const ask = async (body: string) => ActorReply.fromJson((await nc.request(subject, body, { timeout: 5_000 })).data)
    expect(await ask(`{"kind":7,"id":"dev-1"}`)).toMatchObject({ ok: false, error: "bad_request", message: expect.stringContaining("akis.rpc request: at kind:") })
    expect(await ask("not json")).toMatchObject({ ok: false, error: "bad_request", message: expect.stringContaining("JSON") })
    expect(await askActor(nc, P, "counter", "dev-1")).toEqual({ count: 1, seqSum: 1 })
  }, 30_000)

  test("answers a stats request with a malformed body with plain stats and logs why", async () => {
    const r = await nc.request("akis.ctl.stats.n1", `{"gc":"yes"}`, { timeout: 5_000 })
    expect(NodeStats.fromJson(r.data).shards.length).toBe(P)
    await waitFor("the refusal logged", () => events(n1).some((e) => e.event === "ctl.bad_request" && String(e.reason).includes("at gc")))
  }, 30_000)

  test("takes back a shard whose lease was overwritten with something that is not a lease", async () => {
    const shards = await kvm().open("akis_shards")
    const starts = () => events(n1).filter((e) => e.event === "shard.start" && e.shard === 0).length
    const before = starts()
    await shards.put("shard.0", "not a lease")
    await waitFor("shard 0 started again", () => starts() > before, { timeoutMs: 20_000 })
    await waitFor("a lease again", async () => {
      const e = await shards.get("shard.0")
      return e?.operation === "PUT" && e.string() !== "not a lease" && LeaseRecord.fromJson(e.value).owner === "n1"
    })
    expect(await askActor(nc, P, "counter", "dev-1")).toEqual({ count: 1, seqSum: 1 })
  }, 40_000)
})

describe("KV readers", () => {
  test("membership counts a value that is not a heartbeat once and leaves it out of the members", async () => {
    const kv = await kvm().open("akis_members")
    const m = new Membership(natsKv(kv), { id: "probe", roles: [], version: "t", pid: 0, host: "h", startedAt: 0 }, { heartbeatMs: 200, suspicionMs: 2_000 }, systemClock)
    await m.start()
    try {
      await kv.put("ghost", `{"id":"ghost","roles":"worker"}`)
      await waitFor("counted", () => m.malformed === 1)
      await Bun.sleep(300) // a few more polls and watch events: still counted once (one revision)
      expect(m.malformed).toBe(1)
      expect(new Set(m.view().map((v) => v.id))).toEqual(new Set(["n1", "probe"]))
      expect(m.isAlive("n1")).toBe(true)
    } finally {
      await m.stop(true)
      await kv.delete("ghost")
    }
  }, 30_000)

  test("leases read a value that is not a lease as held by nobody alive, and count it", async () => {
    const kv = await kvm().open("akis_shards")
    const rev = await kv.put("shard.99", "[1,2]")
    const leases = new Leases(natsKv(kv), "probe", systemClock)
    expect(await leases.read(99)).toEqual({ value: { owner: "", epoch: 0, at: 0 }, revision: rev })
    expect(leases.malformed).toBe(1)
    expect(await leases.take(99, await leases.read(99))).toMatchObject({ shard: 99, epoch: 1 })
  })

  test("a checkpoint entry that is not one fails the read with WireDecodeError naming the field", async () => {
    const kv = await kvm().open("akis_snapshots")
    await kv.put("shard.98", checkpointCodec.pack({ shard: 98, streamSeq: 1, epoch: 1, owner: "n1", at: 0, actors: "all of them" }))
    const e = await new Checkpoints(natsKv(kv)).read(98).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(WireDecodeError)
    expect(e).toMatchObject({ wire: "akis_snapshots checkpoint", path: "actors" })
  })

  const bucket = async (name: string): Promise<KV> => kvm().create(name)

  test("the token store leaves out and reports a value that is not a token", async () => {
    const kv = await bucket("wire_tokens")
    const good = { id: "0a1b2c3d", name: "ci", role: "viewer" as const, hash: "ab", createdAt: 1, expiresAt: null, revokedAt: null, createdBy: "cli" }
    await kv.put("t.0a1b2c3d", TokenRecordMessage.toJson(good))
    await kv.put("t.bad", JSON.stringify({ ...good, id: "bad", role: "root" }))
    const bad: WireDecodeError[] = []
    const store = await kvTokenStore(natsKv(kv), (e) => bad.push(e))
    try {
      expect(store.list()).toEqual([good])
      expect(bad.map((e) => [e.wire, e.path])).toEqual([["akis_tokens token", "role"]])
    } finally {
      await store.close()
    }
  })

  test("the audit log leaves out and reports records and notes that are not", async () => {
    const kv = await bucket("wire_audit")
    const bad: WireDecodeError[] = []
    const log = kvAuditLog(natsKv(kv), (e) => bad.push(e))
    await log.append({ at: 1_000, actor: "cli:me", role: "cli", action: "rules.apply", target: "v1" })
    await kv.put("log.0000000002000.x", `{"at":2000}`)
    await log.addNote({ alertId: "a", at: 1, by: "ops", kind: "ack", text: "" })
    await kv.put(`note.${Buffer.from("a").toString("hex")}.0000000000002.x`, `{"alertId":"a","kind":"ack"}`)
    expect((await log.query({ from: 0, to: 10_000, limit: 10 })).map((r) => r.target)).toEqual(["v1"])
    expect((await log.notes("a")).length).toBe(1)
    expect(await log.acknowledged(["a"])).toEqual(new Set(["a"]))
    expect(new Set(bad.map((e) => `${e.wire} ${e.path}`))).toEqual(new Set(["akis_audit record actor", "akis_audit alert note at"]))
  })
})

describe("the history service", () => {
  test("refuses a malformed request naming the field, counts it, and answers the next one", async () => {
    const store = { kind: "chdb" as const, binaryInsert: false, exec: async () => {}, query: async <T>() => [{ n: 3, raised: 1, cleared: 0 }] as T[], insert: async () => {}, close: async () => {} }
    const svc = serveHistory(natsBus(nc), store, loadDeviceSchema())
    try {
      const r = await nc.request(historySubject, `{"op":"readings","query":{"device":"d","from":"yesterday","to":2}}`, { timeout: 5_000 })
      expect(JSON.parse(new TextDecoder().decode(r.data))).toMatchObject({ ok: false, code: "input", field: "query.from" })
      expect(svc.counters.refused).toBe(1)
      expect(await askHistory(natsBus(nc), { op: "summary" })).toEqual({ stored: 3, raised: 1, cleared: 0 })
      expect(svc.counters).toEqual({ answered: 1, refused: 1, failed: 0 })
    } finally {
      svc.stop()
    }
  })
})
