import { describe, expect, test } from "bun:test"
import type { KV } from "@nats-io/kv"
import { TestClock } from "../../runtime/clock.ts"
import { startLease } from "./lease.ts"

/** One KV key with revisions and compare-and-set, as the lease uses it; `down` makes one client's calls fail (partition). */
const fakeKv = () => {
  let entry: { value: string; revision: number; op: "PUT" | "DEL" } | undefined
  let revision = 0
  const conflict = () => new Error("wrong last sequence")
  const client = (down: () => boolean): KV => {
    const guard = () => {
      if (down()) throw new Error("NATS unreachable")
    }
    return {
      async get() {
        guard()
        return entry ? { operation: entry.op, revision: entry.revision, string: () => entry!.value } : null
      },
      async create(_k: string, v: string) {
        guard()
        if (entry && entry.op === "PUT") throw conflict()
        entry = { value: v, revision: ++revision, op: "PUT" }
        return revision
      },
      async update(_k: string, v: string, rev: number) {
        guard()
        if (!entry || entry.revision !== rev) throw conflict()
        entry = { value: v, revision: ++revision, op: "PUT" }
        return revision
      },
      async delete(_k: string, o?: { previousSeq?: number }) {
        guard()
        if (o?.previousSeq !== undefined && entry?.revision !== o.previousSeq) throw conflict()
        entry = { value: "", revision: ++revision, op: "DEL" }
      },
    } as unknown as KV
  }
  return { client }
}

describe("notifier lease on a TestClock", () => {
  test("one holder at a time; a partitioned holder is taken over after suspicionMs and steps down itself", async () => {
    const clock = new TestClock(0)
    const kv = fakeKv()
    let aDown = false
    const changes: string[] = []
    const lease = (name: string, down: () => boolean) =>
      startLease({ kv: kv.client(down), key: "leader", holder: name, heartbeatMs: 1_000, suspicionMs: 5_000, clock, onChange: (l) => changes.push(`${name}:${l}@${clock.now()}`) })
    const a = lease("a", () => aDown)
    await clock.flush()
    const b = lease("b", () => false)
    await clock.advance(10_000)
    expect([a.held, b.held]).toEqual([true, false])
    expect(changes).toEqual(["a:true@0"])

    aDown = true // a can no longer reach the KV: it steps down at its next beat, b waits out the suspicion
    await clock.advance(1_000)
    expect(a.held).toBe(false)
    await clock.advance(3_000)
    expect(b.held).toBe(false)
    await clock.advance(3_000)
    expect(b.held).toBe(true)
    const takeover = Number(changes.find((c) => c.startsWith("b:true"))!.split("@")[1])
    expect(takeover - 10_000).toBeGreaterThanOrEqual(5_000) // never before suspicionMs of unchanged revision

    aDown = false // a is back: it sees b's beats and stays a standby
    await clock.advance(20_000)
    expect([a.held, b.held]).toEqual([false, true])
    await b.stop()
    await clock.advance(1_000) // b handed over by deleting the key: a takes it on its next beat
    expect(a.held).toBe(true)
    await a.stop()
    expect(clock.timers).toBe(0)
  })
})
