import { describe, expect, test } from "bun:test"
import type { ActorContext, ActorKind } from "./actor-kind.ts"
import { ActorTable } from "./actor-table.ts"
import { BatchBuilder } from "./batch.ts"
import { checkpointCodec } from "./checkpoints.ts"
import { packSnapshot } from "./snapshot-codec.ts"

/** An actor with one deadline: `ring` at processing time `due`, once (an alarm clock). */
interface Alarm {
  id: string
  due: number
  rung: boolean
}

const fired: string[] = []
const alarmKind: ActorKind<Alarm> = {
  name: "alarm",
  create: (id) => ({ id, due: Number.POSITIVE_INFINITY, rung: false }),
  onReading(s, batch, i) {
    s.due = batch.values[i]!
    s.rung = false
  },
  onTick(s, ctx) {
    if (!s.rung && ctx.now >= s.due) {
      s.rung = true
      fired.push(`${s.id}@${ctx.now}`)
    }
  },
  nextTimer: (s) => (s.rung ? Number.POSITIVE_INFINITY : s.due),
  snapshot: (s) => [s.due, s.rung],
  restore: (id, snap) => {
    const [due, rung] = snap as [number, boolean]
    return { id, due, rung }
  },
  query: (s) => s,
}

const ctx = (): ActorContext & { now: number } => ({ now: 0, shard: 0, streamSeq: 0, publish() {}, store() {} })
const table = () => new ActorTable(alarmKind as ActorKind<unknown>, ctx(), { actorIdleMs: 10_000, tickMs: 1_000 })
/** Sets actor `id`'s alarm to `due` as if a reading said so at `now`. */
const arm = (t: ActorTable, id: string, due: number, now: number) => {
  const a = t.get(id, now)
  const b = new BatchBuilder(1, 1)
  b.push(id, 1, now, [due])
  alarmKind.onReading(a.state as Alarm, b.take(now), 0, ctx())
  a.lastActive = now
}
/** Ticks every second from `from` to `to` (inclusive), as the shard host's interval does. */
const run = (t: ActorTable, from: number, to: number) => {
  for (let now = from; now <= to; now += 1_000) t.tick(now)
}

describe("ActorTable timers", () => {
  test("an idle actor is passivated with its pending deadline and woken to fire on time, once", () => {
    fired.length = 0
    const t = table()
    arm(t, "a", 60_000, 0)
    arm(t, "b", Number.POSITIVE_INFINITY, 0) // no timer: passivated and forgotten
    run(t, 1_000, 20_000)
    // idle > 10 s: both passive; a's deadline is in the index
    expect([...t.live.keys()]).toEqual([])
    expect([...t.wakeups]).toEqual([["a", 60_000]])
    run(t, 21_000, 120_000)
    expect(fired).toEqual(["a@60000"])
    expect(t.metrics.wakeups).toBe(1)
    expect(t.live.has("b")).toBe(false)
  })

  test("an actor whose deadline is due within a tick stays live instead of being passivated and woken at once", () => {
    fired.length = 0
    const t = table()
    arm(t, "a", 11_500, 0)
    run(t, 1_000, 11_000) // idle since 0, but due at 11.5 s
    expect(t.live.has("a")).toBe(true)
    run(t, 12_000, 12_000)
    expect(fired).toEqual(["a@12000"])
  })

  test("a checkpoint carries the timers: a new owner wakes exactly the actors with a deadline, on time", () => {
    fired.length = 0
    const old = table()
    arm(old, "a", 60_000, 0)
    arm(old, "b", 90_000, 0)
    for (let i = 0; i < 50; i++) arm(old, `quiet-${i}`, Number.POSITIVE_INFINITY, 0)
    run(old, 1_000, 5_000) // a and b live (not idle yet): their timers come from the kind
    arm(old, "c", 30_000, 5_000)
    run(old, 6_000, 20_000) // now a and b are passive with index entries, c live
    const snap = checkpointCodec.unpack(checkpointCodec.pack(old.snapshot(20_000))) as ReturnType<ActorTable["snapshot"]>
    expect(new Map(snap.timers)).toEqual(new Map([["a", 60_000], ["b", 90_000], ["c", 30_000]]))

    const next = table()
    next.restore(snap.actors, snap.timers, 20_000)
    expect(next.live.size).toBe(0) // nothing activated up front
    run(next, 21_000, 120_000)
    expect(fired).toEqual(["c@30000", "a@60000", "b@90000"])
    expect(next.metrics.activations).toBe(3) // the 50 quiet actors were never activated
  })

  test("a checkpoint written before timers existed gets its index rebuilt at restore", () => {
    fired.length = 0
    const old = table()
    arm(old, "a", 60_000, 0)
    arm(old, "quiet", Number.POSITIVE_INFINITY, 0)
    const { actors } = old.snapshot(0)
    const next = table()
    next.restore(actors, undefined, 20_000)
    expect([...next.wakeups]).toEqual([["a", 60_000]])
    run(next, 21_000, 70_000)
    expect(fired).toEqual(["a@60000"])
  })

  test("a reading activates a passive actor and drops its wake-up (the actor's own timer decides again)", () => {
    fired.length = 0
    const t = table()
    arm(t, "a", 60_000, 0)
    run(t, 1_000, 20_000)
    expect(t.wakeups.has("a")).toBe(true)
    arm(t, "a", 100_000, 25_000) // a reading moved the deadline
    expect(t.wakeups.has("a")).toBe(false)
    run(t, 26_000, 110_000)
    expect(fired).toEqual(["a@100000"])
  })

  test("an unreadable snapshot does not stop the others' timers: its wake-up fails, counted, and it stays passive", () => {
    fired.length = 0
    const t = table()
    t.restore([["a", packSnapshot([30_000, false])], ["bad", packSnapshot("not a snapshot")], ["b", packSnapshot([40_000, false])]], [["a", 30_000], ["bad", 20_000], ["b", 40_000]], 0)
    const restore = alarmKind.restore
    alarmKind.restore = (id, snap) => {
      if (!Array.isArray(snap)) throw new TypeError(`${id}: bad snapshot`)
      return restore(id, snap, ctx())
    }
    try {
      run(t, 1_000, 50_000)
    } finally {
      alarmKind.restore = restore
    }
    expect(fired).toEqual(["a@30000", "b@40000"])
    expect(t.metrics.wakeFailures).toBe(1)
    expect(t.passive.has("bad")).toBe(true)
  })

  test("a passive actor is its packed snapshot, and a checkpoint carries those very bytes", () => {
    const t = table()
    arm(t, "a", 60_000, 0)
    run(t, 1_000, 20_000)
    const bytes = t.passive.get("a")!
    expect(Buffer.from(bytes)).toEqual(Buffer.from(packSnapshot([60_000, false])))
    const [[id, carried]] = t.snapshot(20_000).actors as [[string, Uint8Array]]
    expect([id, carried === bytes]).toEqual(["a", true]) // not packed again
    const cp = checkpointCodec.unpack(checkpointCodec.pack(t.snapshot(20_000))) as ReturnType<ActorTable["snapshot"]>
    expect(Buffer.from(cp.actors[0]![1])).toEqual(Buffer.from(bytes))
    expect(t.peek("a")).toEqual({ id: "a", due: 60_000, rung: false })
  })

  test("an idle table does not change: ticks with every actor passive and no timer due keep its version", () => {
    fired.length = 0
    const t = table()
    arm(t, "a", 60_000, 0)
    arm(t, "b", 90_000, 0)
    run(t, 1_000, 20_000) // both passive
    const idle = t.version
    run(t, 21_000, 59_000)
    expect(t.version).toBe(idle)
    run(t, 60_000, 60_000) // a's timer wakes it: ticked, so it may have changed
    expect(fired).toEqual(["a@60000"])
    expect(t.version).toBeGreaterThan(idle)
  })

  test("a live actor is packed once until it changes: ticks that report no change keep its bytes and the table's version; a reading or a changing tick packs it again", () => {
    let packs = 0
    let tickChanges = false
    const counting: ActorKind<{ n: number }> = {
      name: "count", create: () => ({ n: 0 }), onReading: (s) => void s.n++, onTick: () => tickChanges,
      snapshot: (s) => (packs++, [s.n]), restore: (_id, snap) => ({ n: (snap as number[])[0]! }), query: (s) => s,
    }
    const c = ctx()
    const t = new ActorTable(counting as ActorKind<unknown>, c, { actorIdleMs: 60_000, tickMs: 1_000 })
    t.get("a", 0)
    const first = t.snapshot(0).actors[0]![1]
    const version = t.version
    t.tick(1_000)
    expect(t.snapshot(1_000).actors[0]![1]).toBe(first) // the same bytes, not packed again
    expect([packs, t.version]).toEqual([1, version])
    tickChanges = true
    t.tick(2_000)
    expect(t.version).toBe(version + 1)
    expect(t.snapshot(2_000).actors[0]![1]).not.toBe(first)
    expect(packs).toBe(2)
    tickChanges = false
    const a = t.get("a", 3_000)
    counting.onReading(a.state as { n: number }, undefined as never, 0, c)
    expect(checkpointCodec.unpack(Bun.inflateSync(t.snapshot(3_000).actors[0]![1] as Uint8Array<ArrayBuffer>))).toEqual([1])
    expect(packs).toBe(3)
  })

  test("a kind that says when an actor is next due is ticked only then: a message, a tick that changed something, or a new epoch tick it at once", () => {
    const ticks: number[] = []
    let change = false
    let epoch = 1
    const lazy: ActorKind<{ due: number }> = {
      name: "lazy", create: () => ({ due: 5_000 }), onReading: () => {},
      onTick: (_s, c) => (ticks.push(c.now), change),
      tickDue: (s) => s.due, epoch: () => epoch,
      snapshot: (s) => [s.due], restore: (_id, snap) => ({ due: (snap as number[])[0]! }), query: (s) => s,
    }
    const t = new ActorTable(lazy as ActorKind<unknown>, ctx(), { actorIdleMs: 600_000, tickMs: 1_000 })
    const every = (from: number, to: number) => { for (let n = from; n <= to; n += 1_000) t.tick(n) }
    t.get("a", 0)
    every(1_000, 7_000)
    expect(ticks).toEqual([1_000, 5_000, 6_000, 7_000]) // after the message; then from its due time on (due stays 5 s)
    ;(t.live.get("a")!.state as { due: number }).due = 20_000
    ticks.length = 0
    every(8_000, 12_000)
    expect(ticks).toEqual([8_000]) // the next tick that ran learnt the new due time
    t.get("a", 12_500)
    every(13_000, 15_000)
    expect(ticks).toEqual([8_000, 13_000]) // a message: the next tick runs
    change = true
    every(14_000, 21_000)
    expect(ticks).toEqual([8_000, 13_000, 20_000, 21_000]) // skipped until due at 20 s; a changing tick is followed by another
    change = false
    ;(t.live.get("a")!.state as { due: number }).due = 100_000
    every(22_000, 25_000)
    expect(ticks).toEqual([8_000, 13_000, 20_000, 21_000, 22_000])
    epoch = 2 // e.g. a new rule set: every live actor is ticked once
    every(26_000, 28_000)
    expect(ticks).toEqual([8_000, 13_000, 20_000, 21_000, 22_000, 26_000])
    expect(t.metrics.ticked).toBe(10)
  })
})
