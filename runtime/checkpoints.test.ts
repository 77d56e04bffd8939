import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Kvm } from "@nats-io/kv"
import { startNats, type NatsServer } from "../tests/harness/index.ts"
import { checkpointCodec, Checkpoints, type Checkpoint } from "./checkpoints.ts"
import { CheckpointTooLarge, CheckpointUnreadable, LeaseLost } from "./errors.ts"
import type { BlobStore } from "./nats/blob-store.ts"
import type { Kv } from "./nats/ports.ts"
import { packSnapshot, unpackSnapshot } from "./snapshot-codec.ts"
import { ensureBuckets } from "./nats/topology.ts"

let ns: NatsServer
let kv: Kv
let objects: BlobStore

beforeAll(async () => {
  ns = await startNats()
  const b = await ensureBuckets(new Kvm(await ns.connect()), { replicas: 1, telemetryMaxAgeHours: 1, alertsMaxAgeHours: 1 })
  kv = b.snapshots
  objects = b.snapshotObjects
})
afterAll(async () => { await ns.cleanup() })

/** `devices` actors whose (packed) snapshots hold `doubles` Float64 values each, noise that does not compress (8 bytes apiece packed). */
const actors = (devices: number, doubles: number, seed = 1): Checkpoint["actors"] =>
  Array.from({ length: devices }, (_, d) => [`bus-${d}`, packSnapshot({ v: 2, xs: Float64Array.from({ length: doubles }, (_, i) => Math.sin(seed * 1e6 + d * doubles + i) * 1e3) })] as const)
const large = (seed = 1) => actors(4, 50_000, seed) // ≈1.6 MB: over one KV value
const small = (seed = 1) => actors(3, 10, seed)
const cp = (shard: number, epoch: number, owner: string, streamSeq: number, body: Checkpoint["actors"]): Checkpoint =>
  ({ shard, streamSeq, epoch, owner, at: 1_000 + streamSeq, actors: body })
/** Byte-exact comparison (toEqual does not treat NaN inside typed arrays as equal). */
const same = (a: unknown, b: unknown) => expect(Buffer.from(checkpointCodec.pack(a))).toEqual(Buffer.from(checkpointCodec.pack(b)))
const bodies = (shard: number) => objects.list(`shard.${shard}.`)

describe("Checkpoints", () => {
  test("a 5 MB checkpoint round-trips through the object store; the KV entry holds only a pointer", async () => {
    const store = new Checkpoints(kv, { objects })
    const { revision } = await store.claim(1, 1, "a", 0)
    const body = actors(10, 62_500) // 10 × 500 kB
    await store.write(cp(1, 1, "a", 42, body), revision)
    const entry = await kv.get("shard.1")
    expect(entry!.value.length).toBeLessThan(1_000)
    const { head } = await store.head(1)
    expect(head).toMatchObject({ shard: 1, streamSeq: 42, epoch: 1, owner: "a" })
    expect(head!.object!.size).toBeGreaterThan(5_000_000)
    const back = await new Checkpoints(kv, { objects }).read(1)
    expect(back.revision).toBe(entry!.revision)
    same(back.checkpoint, cp(1, 1, "a", 42, body))
  }, 30_000)

  test.each([
    ["inline → object", small, large],
    ["object → inline", large, small],
  ])("a deposed owner's write is refused (%s) and leaves no body behind", async (_, first, late) => {
    const shard = first === small ? 2 : 3
    const a = new Checkpoints(kv, { objects })
    const b = new Checkpoints(kv, { objects })
    const claimA = await a.claim(shard, 1, "a", 0)
    const revA = await a.write(cp(shard, 1, "a", 10, first()), claimA.revision)
    const claimB = await b.claim(shard, 2, "b", 0) // a is deposed
    same(claimB.checkpoint.actors, first())
    await expect(a.write(cp(shard, 1, "a", 11, late(2)), revA)).rejects.toBeInstanceOf(LeaseLost)
    const now = await b.read(shard)
    expect(now.revision).toBe(claimB.revision)
    expect(now.checkpoint).toMatchObject({ streamSeq: 10, epoch: 2, owner: "b" })
    same(now.checkpoint!.actors, first())
    const { head } = await b.head(shard)
    expect(await bodies(shard)).toEqual(head!.object ? [head!.object.name] : [])
    // and the new owner goes on writing in the other form
    await b.write(cp(shard, 2, "b", 12, late(3)), claimB.revision)
    same((await a.read(shard)).checkpoint!.actors, late(3))
  }, 30_000)

  test("a successful write deletes the previous body; going inline deletes the last one", async () => {
    const store = new Checkpoints(kv, { objects })
    let { revision } = await store.claim(4, 1, "a", 0)
    for (let seq = 1; seq <= 3; seq++) {
      revision = await store.write(cp(4, 1, "a", seq, large(seq)), revision)
      expect(await bodies(4)).toEqual([(await store.head(4)).head!.object!.name])
    }
    await store.write(cp(4, 1, "a", 4, small()), revision)
    expect(await bodies(4)).toEqual([])
    expect(store.stats).toMatchObject({ spilled: 3, removed: 3 })
  }, 30_000)

  test("a body left by a writer that died before its CAS is removed at the next claim; the current one stays", async () => {
    const a = new Checkpoints(kv, { objects })
    const { revision } = await a.claim(5, 1, "a", 0)
    await a.write(cp(5, 1, "a", 7, large()), revision)
    const current = (await a.head(5)).head!.object!.name
    // a's next checkpoint: body stored, then the node is killed before the KV update
    const orphan = await objects.put("shard.5.1.8.", checkpointCodec.pack(cp(5, 1, "a", 8, large(2))))
    expect((await bodies(5)).sort()).toEqual([current, orphan.name].sort())
    const b = new Checkpoints(kv, { objects })
    const claimed = await b.claim(5, 2, "b", 0)
    expect(claimed.checkpoint.streamSeq).toBe(7)
    expect(await bodies(5)).toEqual([current])
    expect(b.stats.orphansRemoved).toBe(1)
    same((await b.read(5)).checkpoint!.actors, large())
  }, 30_000)

  test("the claim's cleanup leaves bodies stored after the claim began (they may be a later owner's)", async () => {
    const later = { name: "" }
    // lastRevision is read first; a body stored right after it stands for an owner after us writing while we clean up
    const racing: BlobStore = {
      ...objects,
      lastRevision: async () => {
        const r = await objects.lastRevision()
        later.name = (await objects.put("shard.9.3.1.", checkpointCodec.pack(cp(9, 3, "c", 1, large())))).name
        return r
      },
    }
    const orphan = await objects.put("shard.9.1.1.", checkpointCodec.pack(cp(9, 1, "a", 1, large())))
    await new Checkpoints(kv, { objects: racing }).claim(9, 2, "b", 0)
    const left = await bodies(9)
    expect(left).toContain(later.name)
    expect(left).not.toContain(orphan.name)
  }, 30_000)

  test("an inline checkpoint in the old format (before the object store) still reads and claims", async () => {
    // What the previous Checkpoints wrote: the whole checkpoint, snapshots unpacked, as the KV value.
    const snapshot = { v: 1, latest: [1, 2], windows: [{ key: "speed_kmh:10000", ts: [1, 2], xs: [3, 4], mean: 3.5, m2: 0.5, updates: 2, moments: true }] }
    const old = { shard: 6, streamSeq: 99, epoch: 3, owner: "old", at: 1_099, actors: [["bus-1", snapshot]], timers: [["bus-1", 5_000]] }
    await kv.create("shard.6", checkpointCodec.pack(old))
    const store = new Checkpoints(kv, { objects })
    const read = (await store.read(6)).checkpoint!
    same({ ...read, actors: read.actors.map(([id, p]) => [id, unpackSnapshot(p)]) }, old) // the same actors, now packed
    const { checkpoint } = await store.claim(6, 4, "new", 5)
    same(checkpoint, { ...read, epoch: 4, owner: "new", at: 5 })
    same((await store.read(6)).checkpoint, checkpoint)
    expect(checkpointCodec.unpack((await kv.get("shard.6"))!.value)).not.toHaveProperty("actors") // rewritten packed
  })

  test("a body in the object store in the old format (snapshots unpacked) still reads", async () => {
    const decoded = (seed: number) => Array.from({ length: 4 }, (_, d) => [`bus-${d}`, { v: 2, xs: Float64Array.from({ length: 50_000 }, (_, i) => seed + d + i) }] as const)
    const object = await objects.put("shard.10.1.7.", checkpointCodec.pack({ shard: 10, streamSeq: 7, epoch: 1, owner: "old", at: 7, actors: decoded(1) }))
    await kv.create("shard.10", checkpointCodec.pack({ shard: 10, streamSeq: 7, epoch: 1, owner: "old", at: 7, object }))
    const { checkpoint } = await new Checkpoints(kv, { objects }).read(10)
    same(checkpoint!.actors.map(([id, p]) => [id, unpackSnapshot(p)]), decoded(1))
    expect(checkpoint!.timers).toBeUndefined() // rebuilt by the actor table from the snapshots
  }, 30_000)

  test("a checkpoint is written with its packed snapshots as they are, under `packed`", async () => {
    const store = new Checkpoints(kv, { objects })
    const { revision } = await store.claim(11, 1, "a", 0)
    const body = small()
    await store.write({ ...cp(11, 1, "a", 3, body), timers: [["bus-0", 9]] }, revision)
    const raw = checkpointCodec.unpack((await kv.get("shard.11"))!.value) as Record<string, unknown>
    expect(raw).not.toHaveProperty("actors")
    same(raw.packed, body)
    same((await store.read(11)).checkpoint, { ...cp(11, 1, "a", 3, body), timers: [["bus-0", 9]] })
  })

  test("a pointer to a missing body or to other bytes is refused with a tagged error", async () => {
    const store = new Checkpoints(kv, { objects })
    const { revision } = await store.claim(7, 1, "a", 0)
    await store.write(cp(7, 1, "a", 1, large()), revision)
    const { head } = await store.head(7)
    const other = await objects.put("shard.7.x.", checkpointCodec.pack(cp(7, 1, "a", 1, large(2))))
    const entry = await kv.get("shard.7")
    const pointer = checkpointCodec.unpack(entry!.value) as { object: { name: string } }
    await kv.put("shard.7", checkpointCodec.pack({ ...pointer, object: { ...head!.object!, name: other.name } }))
    await expect(store.read(7)).rejects.toMatchObject({ _tag: "CheckpointUnreadable", reason: expect.stringContaining("digest") })
    await objects.delete(other.name)
    const err = await store.read(7).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CheckpointUnreadable)
    expect((err as CheckpointUnreadable).message).toContain("is missing")
  })

  test("without an object store a checkpoint over one KV value fails as before", async () => {
    const store = new Checkpoints(kv)
    const { revision } = await store.claim(8, 1, "a", 0)
    await expect(store.write(cp(8, 1, "a", 1, large()), revision)).rejects.toBeInstanceOf(CheckpointTooLarge)
  })
})
