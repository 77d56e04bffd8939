/** Checkpoint fencing on the twins: compare-and-set conflicts between owners, deterministic. */
import { describe, expect, test } from "bun:test"
import { Checkpoints, type Checkpoint } from "./checkpoints.ts"
import { LeaseLost } from "./errors.ts"
import { MemoryBlobStore } from "./nats/memory-blob-store.ts"
import { MemoryKv } from "./nats/memory-kv.ts"
import type { Kv } from "./nats/ports.ts"
import { packSnapshot } from "./snapshot-codec.ts"

const cp = (epoch: number, owner: string, streamSeq: number, n = 1): Checkpoint =>
  ({ shard: 0, streamSeq, epoch, owner, at: streamSeq, actors: Array.from({ length: n }, (_, i) => [`d${i}`, packSnapshot({ seq: streamSeq, pad: "x".repeat(64) })] as const) })
const refused = async (p: Promise<unknown>) => expect(await p.then(() => undefined, (e) => e)).toBeInstanceOf(LeaseLost)

describe("checkpoint fencing (on the twins)", () => {
  test("a deposed owner's write fails with LeaseLost and the new owner's checkpoint stays", async () => {
    const kv = new MemoryKv()
    const a = new Checkpoints(kv)
    const b = new Checkpoints(kv)
    const { revision: ra } = await a.claim(0, 1, "a", 0)
    const ra2 = await a.write(cp(1, "a", 10), ra)
    const claimed = await b.claim(0, 2, "b", 0)
    expect(claimed.checkpoint.streamSeq).toBe(10) // b resumes from a's last checkpoint
    await refused(a.write(cp(1, "a", 20), ra2))
    await b.write(cp(2, "b", 15), claimed.revision)
    const { checkpoint } = await b.read(0)
    expect([checkpoint!.owner, checkpoint!.epoch, checkpoint!.streamSeq]).toEqual(["b", 2, 15])
  })

  test("a claim that races a deposed owner's write retries and claims the newer checkpoint", async () => {
    const store = new MemoryKv()
    const a = new Checkpoints(store)
    const { revision } = await a.claim(0, 1, "a", 0)
    let raced = false
    // b's first CAS finds that a wrote in between its read and its write
    const racing: Kv = {
      get: (k) => store.get(k),
      put: (k, v) => store.put(k, v),
      create: (k, v) => store.create(k, v),
      delete: (k, o) => store.delete(k, o),
      watch: (o) => store.watch(o),
      keys: () => store.keys(),
      update: async (k, v, r) => {
        if (!raced) {
          raced = true
          await a.write(cp(1, "a", 30), revision)
        }
        return store.update(k, v, r)
      },
    }
    const b = new Checkpoints(racing)
    const claimed = await b.claim(0, 2, "b", 0)
    expect(raced).toBe(true)
    expect([claimed.checkpoint.owner, claimed.checkpoint.epoch, claimed.checkpoint.streamSeq]).toEqual(["b", 2, 30])
    expect((await b.read(0)).revision).toBe(claimed.revision)
  })

  test("a refused writer's body in the object store is removed; the new owner's stays", async () => {
    const kv = new MemoryKv()
    const objects = new MemoryBlobStore()
    const a = new Checkpoints(kv, { objects, inlineBytes: 100 })
    const b = new Checkpoints(kv, { objects, inlineBytes: 100 })
    const { revision } = await a.claim(0, 1, "a", 0)
    const ra = await a.write(cp(1, "a", 10, 5), revision)
    expect(await objects.list("shard.0.")).toHaveLength(1)
    const claimed = await b.claim(0, 2, "b", 0)
    await refused(a.write(cp(1, "a", 20, 5), ra))
    const rb = await b.write(cp(2, "b", 25, 5), claimed.revision)
    const names = await objects.list("shard.0.")
    expect(names).toHaveLength(1) // a's refused body and the replaced one are gone
    const { head } = await b.head(0)
    expect(head!.object!.name).toBe(names[0]!)
    expect((await b.read(0)).checkpoint!.streamSeq).toBe(25)
    expect(rb).toBeGreaterThan(claimed.revision)
  })
})
