/**
 * The inspection rows (inspect.ts) and the tools' bucket opener (client.ts) on a real
 * nats-server: plain data out, and a missing stream, bucket or consumer translated once
 * (StreamNotFound, or an empty answer where absence is normal).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { AckPolicy, jetstreamManager } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import type { NatsConnection } from "@nats-io/transport-node"
import { startNats, type NatsServer } from "../../tests/harness/index.ts"
import { StreamNotFound } from "../errors.ts"
import { natsBus } from "./bus.ts"
import { openKv, requesterOf } from "./client.ts"
import { natsKv } from "./kv.ts"
import { natsInspect } from "./inspect.ts"

let ns: NatsServer
let nc: NatsConnection
beforeAll(async () => {
  ns = await startNats()
  nc = await ns.connect()
  const jsm = await jetstreamManager(nc)
  await jsm.streams.add({ name: "INSPECTED", subjects: ["inspected.>"], max_age: 3_600 * 1e9 })
  await jsm.consumers.add("INSPECTED", { durable_name: "reader", ack_policy: AckPolicy.Explicit, ack_wait: 30 * 1e9, filter_subject: "inspected.a" })
  const js = jsm.jetstream()
  for (const s of ["inspected.a", "inspected.a", "inspected.b"]) await js.publish(s, new Uint8Array(3))
  const kv = await new Kvm(nc).create("inspected_kv", { history: 3 })
  await kv.put("k", "1")
  await kv.put("k", "2")
  await kv.put("other", "x")
})
afterAll(async () => {
  await nc?.close()
  await ns?.cleanup()
})

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e)

describe("inspection rows", () => {
  test("streams and one stream as plain rows; a missing stream is undefined", async () => {
    const i = natsInspect(nc)
    const s = (await i.streams()).find((x) => x.stream === "INSPECTED")!
    expect(s).toMatchObject({ subjects: ["inspected.>"], consumers: 1, messages: 3, firstSeq: 1, lastSeq: 3, deleted: 0, storage: "file", replicas: 1, maxAgeMs: 3_600_000, leader: null, peers: [] })
    expect((await i.stream("INSPECTED"))?.messages).toBe(3)
    expect(await i.stream("NOPE")).toBeUndefined()
  })

  test("consumers with their positions; none for a missing stream, undefined for a missing consumer", async () => {
    const i = natsInspect(nc)
    expect(await i.consumers("INSPECTED")).toEqual([expect.objectContaining({
      stream: "INSPECTED", consumer: "reader", push: false, ackPolicy: "explicit", ackWaitMs: 30_000, filter: "inspected.a", unprocessed: 2, ackPending: 0, redelivered: 0,
    })])
    expect((await i.consumer("INSPECTED", "reader"))?.unprocessed).toBe(2)
    expect(await i.consumer("INSPECTED", "nobody")).toBeUndefined()
    expect(await i.consumers("NOPE")).toEqual([])
  })

  test("a bucket's status, entries with their write time, a key's history; a missing bucket is StreamNotFound", async () => {
    const i = natsInspect(nc)
    expect(await i.bucket("inspected_kv")).toEqual({ bucket: "inspected_kv", values: 3, history: 3, replicas: 1, bytes: expect.any(Number) })
    const entries = await i.entries("inspected_kv")
    expect(entries.map((e) => [e.key, e.revision, e.operation, new TextDecoder().decode(e.value)])).toEqual([["k", 2, "PUT", "2"], ["other", 3, "PUT", "x"]])
    expect(Math.abs(entries[0]!.created - Date.now())).toBeLessThan(60_000)
    expect((await i.entries("inspected_kv", ["other"])).map((e) => e.key)).toEqual(["other"])
    expect((await i.history("inspected_kv", "k")).map((e) => e.revision)).toEqual([1, 2])
    expect(await failure(i.bucket("inspected_none"))).toBeInstanceOf(StreamNotFound)
    expect(await failure(i.entries("inspected_none"))).toBeInstanceOf(StreamNotFound)
  })
})

describe("the tools' client helpers", () => {
  test("entries lists each key once, and every key, while keys are being written (a member's heartbeat during `ops cluster`)", async () => {
    const kv = await new Kvm(nc).create("inspected_busy")
    const names = Array.from({ length: 200 }, (_, i) => `m${String(i).padStart(3, "0")}`)
    for (const k of names) await kv.put(k, "0")
    await kv.put("left", "x")
    await kv.delete("left") // a deleted key is not listed
    let writing = true
    // Three writers rewriting 20 keys: nats.js's own listing skipped some of them now and then.
    const writers = [0, 1, 2].map(async (w) => {
      for (let i = 0; writing && i < 100_000; i++) await kv.put(names[(i * 3 + w) % 20]!, String(i))
    })
    const port = natsKv(kv)
    const incomplete: string[][] = []
    const t0 = Date.now()
    for (let n = 0; n < 1_000 && Date.now() - t0 < 3_000; n++) {
      const keys = await port.keys()
      if (keys.length !== names.length || new Set(keys).size !== names.length || keys.includes("left")) incomplete.push(keys)
    }
    const i = natsInspect(nc)
    const lists: string[][] = []
    for (let n = 0; n < 20; n++) lists.push((await i.entries("inspected_busy")).map((e) => e.key))
    writing = false
    await Promise.all(writers)
    expect(incomplete).toEqual([])
    for (const l of lists) expect(l).toEqual(names)
  }, 20_000)

  test("openKv opens an existing bucket as a Kv port and refuses a missing one with StreamNotFound", async () => {
    const kv = await openKv(nc, "inspected_kv")
    expect(new TextDecoder().decode((await kv.get("k"))!.value)).toBe("2")
    expect(await failure(openKv(nc, "inspected_none"))).toBeInstanceOf(StreamNotFound)
  })

  test("requesterOf gives askActor's request/reply over the Bus port", async () => {
    const bus = natsBus(nc)
    const sub = bus.subscribe("tools.rpc", (m) => void m.respond(new TextEncoder().encode("pong")))
    const r = await requesterOf(bus).request("tools.rpc", new Uint8Array(0), { timeout: 2_000 })
    expect(new TextDecoder().decode(r.data)).toBe("pong")
    sub.unsubscribe()
  })
})
