/**
 * The contract of the NATS ports: one suite, run against the in-memory twins and against a real
 * nats-server through the adapters, so the twins the failover tests run on behave as NATS does.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { Objm } from "@nats-io/obj"
import { startNats, type NatsServer } from "../../tests/harness/index.ts"
import { TestClock } from "../clock.ts"
import { KvConflict, NoAnswer, TopologyUnavailable } from "../errors.ts"
import { openBlobStore } from "./blob-store.ts"
import { natsBus } from "./bus.ts"
import { natsJetStream } from "./jetstream.ts"
import { natsKv } from "./kv.ts"
import { MemoryBlobStore } from "./memory-blob-store.ts"
import { MemoryBus } from "./memory-bus.ts"
import { MemoryJetStream } from "./memory-jetstream.ts"
import { MemoryKv } from "./memory-kv.ts"
import { MemoryNats } from "./memory-nats.ts"
import { natsPorts } from "./nats-ports.ts"
import type { BlobStore, Bus, HistoryKv, JetStream, Kv, KvEntry, KvWatch, NatsPorts, StreamMsg } from "./ports.ts"
import { names } from "./topology.ts"

interface Ports {
  /** Lets `ms` pass: the twin's test clock is advanced, a real server is waited for. */
  wait(ms: number): Promise<void>
  /** A fresh bucket keeping `history` revisions per key (default 1). */
  kv(history?: number): Promise<HistoryKv>
  js: JetStream
  blobs: BlobStore
  bus: Bus
  /** Ports of a connection of their own, for Setup; `cut` takes that connection away (the twin: marks it down). */
  nats: NatsPorts
  cut(): Promise<void>
  now(): number
}

const text = (e: KvEntry | null) => (e ? new TextDecoder().decode(e.value) : null)
const bytes = (s: string) => new TextEncoder().encode(s)
const take = async <T>(it: AsyncIterable<T>, n: number): Promise<T[]> => {
  const out: T[] = []
  if (n === 0) return out
  for await (const v of it) if (out.push(v) >= n) break
  return out
}
const conflict = async (p: Promise<unknown>) => expect(await p.then(() => undefined, (e) => e)).toBeInstanceOf(KvConflict)
const stream = "CONTRACT"

let buckets = 0
const contract = (name: string, setup: () => Promise<Ports>) => {
  let p: Ports
  beforeAll(async () => {
    p = await setup()
  })

  describe(`${name}: Kv`, () => {
    test("writes return increasing revisions and get returns the latest entry", async () => {
      const kv = await p.kv()
      const r1 = await kv.put("a", "1")
      const r2 = await kv.put("b", "2")
      const r3 = await kv.put("a", "3")
      expect(r1 < r2 && r2 < r3).toBe(true)
      const e = await kv.get("a")
      expect({ key: e!.key, revision: e!.revision, operation: e!.operation, v: text(e) }).toEqual({ key: "a", revision: r3, operation: "PUT", v: "3" })
      expect(await kv.get("missing")).toBeNull()
    })

    test("create succeeds on an absent or deleted key and is a KvConflict on a held one", async () => {
      const kv = await p.kv()
      const r = await kv.create("k", "1")
      await conflict(kv.create("k", "2"))
      await kv.delete("k")
      expect((await kv.get("k"))!.operation).toBe("DEL")
      const r2 = await kv.create("k", "3")
      expect(r2).toBeGreaterThan(r)
      expect(text(await kv.get("k"))).toBe("3")
    })

    test("update and delete compare-and-set on the revision", async () => {
      const kv = await p.kv()
      const r1 = await kv.create("k", "1")
      const r2 = await kv.update("k", "2", r1)
      await conflict(kv.update("k", "x", r1))
      await conflict(kv.delete("k", { previousSeq: r1 }))
      expect(text(await kv.get("k"))).toBe("2")
      await kv.delete("k", { previousSeq: r2 })
      expect((await kv.get("k"))!.operation).toBe("DEL")
    })

    test("a watch delivers every key's latest entry, then each later write in order", async () => {
      const kv = await p.kv()
      await kv.put("a", "1")
      await kv.put("a", "2")
      await kv.put("b", "1")
      const w: KvWatch = await kv.watch()
      const got = take(w, 4)
      await kv.put("c", "1")
      await kv.delete("b")
      const seen = (await got).map((e) => `${e.key}:${e.operation}:${text(e)}`)
      w.stop()
      expect(seen).toEqual(["a:PUT:2", "b:PUT:1", "c:PUT:1", "b:DEL:"])
    })

    test("a watch from a revision delivers the writes from that revision on", async () => {
      const kv = await p.kv()
      await kv.put("a", "1")
      const from = await kv.put("b", "1")
      await kv.put("c", "1")
      const w = await kv.watch({ fromRevision: from })
      const seen = (await take(w, 2)).map((e) => e.key)
      w.stop()
      expect(seen).toEqual(["b", "c"])
    })

    test("history lists the revisions a key keeps, oldest first; a key watch sees that key only", async () => {
      const kv = await p.kv(3)
      await kv.put("r", "1")
      await kv.put("other", "x")
      const w = await kv.watch({ key: "r" })
      const got = take(w, 4)
      await kv.put("r", "2")
      await kv.put("other", "y")
      await kv.delete("r")
      await kv.put("r", "3")
      expect((await got).map((e) => `${e.operation}:${text(e)}`)).toEqual(["PUT:1", "PUT:2", "DEL:", "PUT:3"])
      w.stop()
      expect((await kv.history("r")).map((e) => `${e.operation}:${text(e)}`)).toEqual(["PUT:2", "DEL:", "PUT:3"])
      expect(await kv.history("never")).toEqual([])
      const one = await p.kv()
      await one.put("k", "1")
      await one.put("k", "2")
      expect((await one.history("k")).map(text)).toEqual(["2"])
    })

    test("keys lists the keys that hold a value", async () => {
      const kv = await p.kv()
      await kv.put("a", "1")
      await kv.put("b", "1")
      await kv.delete("a")
      expect((await kv.keys()).sort()).toEqual(["b"])
    })

    test("a watch on a key filter delivers the matching keys, delta counting down to 0, then their writes", async () => {
      const kv = await p.kv()
      await kv.put("t.a", "1")
      await kv.put("x.b", "1")
      await kv.put("t.c", "1")
      const w = await kv.watch({ key: "t.>" })
      const it = w[Symbol.asyncIterator]()
      const initial = [(await it.next()).value!, (await it.next()).value!]
      await kv.put("x.e", "1")
      await kv.put("t.d", "1")
      const later = (await it.next()).value!
      w.stop()
      expect([...initial, later].map((e) => `${e.key}:${e.delta}`)).toEqual(["t.a:1", "t.c:0", "t.d:0"])
    })

    test("keys lists each key once, even while keys are being written (heartbeats during the listing)", async () => {
      const kv = await p.kv()
      const names = Array.from({ length: 200 }, (_, i) => `m${String(i).padStart(3, "0")}`)
      for (const k of names) await kv.put(k, "0")
      let writing = true
      const writer = (async () => {
        for (let i = 0; writing && i < 5_000; i++) await kv.put(names[i % 20]!, String(i))
      })()
      const lists: string[][] = []
      for (let i = 0; i < 20; i++) lists.push(await kv.keys())
      writing = false
      await writer
      for (const l of lists) expect(l.length).toBe(new Set(l).size)
      expect(new Set(lists.flat())).toEqual(new Set(names))
    })

    test("keys with a filter lists the matching keys that hold a value", async () => {
      const kv = await p.kv()
      for (const k of ["note.1.a", "note.1.b", "note.2.a", "log.1"]) await kv.put(k, "1")
      await kv.delete("note.1.b")
      expect((await kv.keys("note.>")).sort()).toEqual(["note.1.a", "note.2.a"])
      expect(await kv.keys("note.2.*")).toEqual(["note.2.a"])
    })
  })

  describe(`${name}: JetStream`, () => {
    test("a msg id published again within the window is a duplicate of the first", async () => {
      const a = await p.js.publish("contract.dup", bytes("x"), { msgId: "id-1" })
      const b = await p.js.publish("contract.dup", bytes("y"), { msgId: "id-1" })
      const c = await p.js.publish("contract.dup", bytes("z"), { msgId: "id-2" })
      expect([a.duplicate, b.duplicate, c.duplicate]).toEqual([false, true, false])
      expect(b.seq).toBe(a.seq)
      expect(c.seq).toBe(a.seq + 1)
    })

    test("a msg id is forgotten once the duplicate window has passed", async () => {
      const a = await p.js.publish("window.x", bytes("x"), { msgId: "w-1" })
      expect((await p.js.publish("window.x", bytes("x"), { msgId: "w-1" })).duplicate).toBe(true)
      await p.wait(600) // window: 300 ms
      const c = await p.js.publish("window.x", bytes("x"), { msgId: "w-1" })
      expect(c.duplicate).toBe(false)
      expect(c.seq).toBe(a.seq + 1)
    })

    test("an ordered consumer delivers its subject from a sequence in order, counts pending and follows new messages", async () => {
      const seqs: number[] = []
      for (let i = 0; i < 6; i++) seqs.push((await p.js.publish(`contract.s.${i % 2}`, bytes(`m${i}`))).seq)
      const c = await p.js.orderedConsumer(stream, { filterSubject: "contract.s.0", startSeq: seqs[2]! })
      expect(await c.pending()).toBe(2) // m2, m4
      expect(await c.pending(true)).toBe(2)
      const feed = await c.consume({ maxMessages: 16, expiresMs: 1_000 })
      const got = take(feed, 3)
      await p.wait(50) // let the consumer deliver what is there before the next publish (both ends)
      await p.js.publish("contract.s.0", bytes("m6"))
      const msgs: StreamMsg[] = await got
      await feed.close()
      expect(msgs.map((m) => new TextDecoder().decode(m.data))).toEqual(["m2", "m4", "m6"])
      expect(msgs[0]!.seq).toBe(seqs[2]!)
      expect(msgs[0]!.info.pending).toBe(1)
      expect(msgs[2]!.info.pending).toBe(0)
    })

    test("a durable consumer redelivers what was not acked within the ack wait, and nothing acked", async () => {
      for (let i = 0; i < 3; i++) await p.js.publish("contract.durable", bytes(`d${i}`))
      const c = await p.js.durableConsumer(stream, "contract_durable")
      const first = await take(await c.fetch({ maxMessages: 3, expiresMs: 1_000 }), 3)
      expect(first.map((m) => new TextDecoder().decode(m.data))).toEqual(["d0", "d1", "d2"])
      first[0]!.ack()
      first[2]!.ack()
      await p.wait(700) // > ack wait (500 ms): d1 is due again
      const again = await take(await c.fetch({ maxMessages: 3, expiresMs: 1_000 }), 1)
      expect(again.map((m) => new TextDecoder().decode(m.data))).toEqual(["d1"])
      again[0]!.ack()
      await p.wait(700)
      const none: unknown[] = []
      const fetching = (async () => {
        for await (const m of await c.fetch({ maxMessages: 3, expiresMs: 1_000 })) none.push(m)
      })()
      await p.wait(1_100) // the fetch expires with nothing
      await fetching
      expect(none).toEqual([])
    })

    test("stream state gives the first and last sequence", async () => {
      const before = await p.js.streamState(stream)
      const { seq } = await p.js.publish("contract.state", bytes("x"))
      const after = await p.js.streamState(stream)
      expect(after.lastSeq).toBe(seq)
      expect(after.messages).toBe(before.messages + 1)
      expect(after.firstSeq).toBe(1)
    })
  })

  describe(`${name}: BlobStore`, () => {
    test("put, get, list, revision, delete", async () => {
      const floor = await p.blobs.lastRevision()
      const a = await p.blobs.put("shard.1.", bytes("hello"))
      const b = await p.blobs.put("shard.2.", bytes("world"))
      expect(a.name.startsWith("shard.1.")).toBe(true)
      expect(a.name).not.toBe(b.name)
      const got = await p.blobs.get(a.name)
      expect(new TextDecoder().decode(got!.bytes)).toBe("hello")
      expect(got!.digest).toBe(a.digest)
      expect(await p.blobs.list("shard.1.")).toEqual([a.name])
      expect((await p.blobs.revision(a.name))!).toBeGreaterThan(floor)
      expect((await p.blobs.revision(b.name))!).toBeGreaterThan((await p.blobs.revision(a.name))!)
      await p.blobs.delete(a.name)
      expect(await p.blobs.get(a.name)).toBeUndefined()
      expect(await p.blobs.revision(a.name)).toBeUndefined()
      expect(await p.blobs.list("shard.1.")).toEqual([])
      await p.blobs.delete(a.name) // absent: no-op
    })
  })

  describe(`${name}: Setup`, () => {
    const topology = { replicas: 1, telemetryMaxAgeHours: 1, alertsMaxAgeHours: 1 }
    const body = (m: StreamMsg) => new TextDecoder().decode(m.data)

    test("a durable made with a start time delivers from there; ensured again it keeps its position", async () => {
      const { js, setup } = p.nats
      await setup.ensure([names.alerts], topology)
      await setup.ensure([names.alerts], topology) // idempotent
      await js.publish("akis.alerts.warning.old", bytes("old"))
      await p.wait(100)
      const startAt = p.now()
      await p.wait(100)
      await js.publish("akis.alerts.warning.new", bytes("new"))
      await setup.ensureDurable(names.alerts, { name: "contract_from", ackWaitMs: 2_000, maxAckPending: 10, startAt })
      const c = await js.durableConsumer(names.alerts, "contract_from")
      const first = await take(await c.fetch({ maxMessages: 5, expiresMs: 1_000 }), 1)
      expect(first.map(body)).toEqual(["new"])
      first[0]!.ack()
      await setup.ensureDurable(names.alerts, { name: "contract_from", ackWaitMs: 3_000, maxAckPending: 10, startAt: 0 })
      await js.publish("akis.alerts.warning.newer", bytes("newer"))
      const next = await take(await (await js.durableConsumer(names.alerts, "contract_from")).fetch({ maxMessages: 5, expiresMs: 1_000 }), 1)
      expect(next.map(body)).toEqual(["newer"])
      next[0]!.ack()
    })

    test("a table row's consumer is made with the stream", async () => {
      const { js, setup } = p.nats
      await setup.ensure([names.alerts, "sinkAlerts"], { ...topology, alertsConsumer: "contract_sink" })
      const { seq } = await js.publish("akis.alerts.warning.sink", bytes("s"))
      const c = await js.durableConsumer(names.alerts, "contract_sink")
      const got = await take(await c.fetch({ maxMessages: 100, expiresMs: 1_000 }), 100)
      expect(got.some((m) => m.seq === seq)).toBe(true)
      for (const m of got) m.ack()
    }, 10_000)

    test("buckets: the table's row and one of its own, the same bucket when opened again", async () => {
      const { setup } = p.nats
      await (await setup.bucket(names.notify, topology)).put("k", "v")
      expect(text(await (await setup.bucket(names.notify, topology)).get("k"))).toBe("v")
      await (await setup.bucket("contract_own", topology, { ttlMs: 3_600_000 })).put("x", "1")
      expect(text(await (await setup.bucket("contract_own", topology, { ttlMs: 3_600_000 })).get("x"))).toBe("1")
      expect(await setup.bucket("contract_nothing", topology).catch((e) => e)).toBeInstanceOf(TopologyUnavailable)
    })
  })

  describe(`${name}: Bus`, () => {
    test("a request is answered by a subscriber; with none it is a NoAnswer", async () => {
      const sub = p.bus.subscribe("ctr.rpc.*", (m) => {
        expect(m.reply?.startsWith("_INBOX")).toBe(true)
        m.respond(bytes(`re:${m.subject}`))
      })
      expect(new TextDecoder().decode(await p.bus.request("ctr.rpc.1", bytes("q"), 1_000))).toBe("re:ctr.rpc.1")
      sub.unsubscribe()
      expect(await p.bus.request("ctr.nobody", bytes("q"), 1_000).catch((e) => e)).toBeInstanceOf(NoAnswer)
    })

    test("a queue group gets each message once; a plain subscriber gets every one", async () => {
      const seen: string[] = []
      const subs = [
        p.bus.subscribe("ctr.q", (m) => void seen.push(`a:${new TextDecoder().decode(m.data)}`), { queue: "g" }),
        p.bus.subscribe("ctr.q", (m) => void seen.push(`b:${new TextDecoder().decode(m.data)}`), { queue: "g" }),
        p.bus.subscribe("ctr.q", (m) => void seen.push(`all:${new TextDecoder().decode(m.data)}`)),
      ]
      // a request answered by the last one makes sure the server has every subscription
      const ready = p.bus.subscribe("ctr.ready", (m) => void m.respond(bytes("ok")))
      await p.bus.request("ctr.ready", bytes(""), 1_000)
      for (let i = 0; i < 6; i++) p.bus.publish("ctr.q", bytes(String(i)))
      await p.bus.request("ctr.ready", bytes(""), 1_000) // after the six, on the same connection
      for (const s of [...subs, ready]) s.unsubscribe()
      const grouped = seen.filter((x) => !x.startsWith("all:")).map((x) => x.slice(2)).sort()
      expect(grouped).toEqual(["0", "1", "2", "3", "4", "5"])
      expect(seen.filter((x) => x.startsWith("all:")).length).toBe(6)
    })
  })

  describe(`${name}: NatsPorts`, () => {
    test("connected() is true on a live connection and false once it is gone", async () => {
      expect(p.nats.connected()).toBe(true)
      await p.cut()
      expect(p.nats.connected()).toBe(false)
    })
  })
}

contract("twin", async () => {
  const clock = new TestClock()
  const js = new MemoryJetStream([
    { name: stream, subjects: ["contract.>"], duplicateWindowMs: 60_000 },
    { name: "WINDOW", subjects: ["window.>"], duplicateWindowMs: 300 },
  ], clock)
  js.addDurable(stream, "contract_durable", { ackWaitMs: 500, filterSubject: "contract.durable" })
  const nats = new MemoryNats(clock)
  return {
    kv: async (history) => new MemoryKv({ history }),
    js,
    blobs: new MemoryBlobStore(),
    bus: new MemoryBus(clock),
    wait: (ms) => clock.advance(ms),
    nats,
    cut: async () => {
      nats.down = true
    },
    now: () => clock.now(),
  }
})

let ns: NatsServer
afterAll(async () => {
  await ns?.cleanup()
})
contract("nats-server", async () => {
  ns = await startNats()
  const nc = await ns.connect()
  const own = await ns.connect()
  const jsm = await jetstreamManager(nc)
  await jsm.streams.add({ name: stream, subjects: ["contract.>"], duplicate_window: 60 * 1e9 })
  await jsm.streams.add({ name: "WINDOW", subjects: ["window.>"], duplicate_window: 300e6 })
  await jsm.consumers.add(stream, { durable_name: "contract_durable", ack_policy: AckPolicy.Explicit, ack_wait: 500e6, filter_subject: "contract.durable" })
  const kvm = new Kvm(nc)
  return {
    kv: async (history) => natsKv(await kvm.create(`contract_${++buckets}`, { history: history ?? 1 })),
    js: natsJetStream(jetstream(nc), jsm),
    blobs: await openBlobStore(new Objm(nc), jsm, "contract", { replicas: 1 }),
    bus: natsBus(nc),
    wait: (ms) => Bun.sleep(ms),
    nats: await natsPorts(own),
    cut: () => own.close(),
    now: () => Date.now(),
  }
})
