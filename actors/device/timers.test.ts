import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { defaultRulesPath } from "../../config/rules/index.ts"
import type { ActorKind } from "../../runtime/actor-kind.ts"
import { ActorTable } from "../../runtime/actor-table.ts"
import { BatchBuilder } from "../../runtime/batch.ts"
import { checkpointCodec } from "../../runtime/checkpoints.ts"
import { packSnapshot, unpackSnapshot } from "../../runtime/snapshot-codec.ts"
import { makeDeviceKind } from "./behaviour.ts"
import { RuleSetHolder } from "./holder.ts"
import { busSchema, compileOrFail, RecordingContext } from "./testing.ts"

const pack = compileOrFail(readFileSync(defaultRulesPath, "utf8"))
const t0 = 1_700_000_000_000
const width = busSchema.fields.length

/** One owner of a shard: the real device kind on the default pack, its actor table and what it published. */
const owner = (actorIdleMs = 20_000) => {
  const kind = makeDeviceKind(busSchema, new RuleSetHolder(pack, 1)) as ActorKind<unknown>
  const ctx = new RecordingContext()
  const table = new ActorTable(kind, ctx, { actorIdleMs, tickMs: 1_000 })
  return {
    ctx, table,
    /** A reading of `id` at t0 + s seconds (event and processing time), with plausible drifting values. */
    read(id: string, s: number) {
      const row = new Float64Array(width).fill(NaN)
      row[busSchema.byName.get("coolant_temp_c")!.index] = 88 + (s % 3) * 0.1
      row[busSchema.byName.get("engine_rpm")!.index] = 800
      const b = new BatchBuilder(width, 1)
      b.push(id, s + 1, t0 + s * 1000, row) // seq numbered from the device's clock, as the simulator does
      const batch = b.take(t0 + s * 1000)
      ctx.now = t0 + s * 1000
      const a = table.get(id, ctx.now)
      a.lastActive = ctx.now
      kind.onReading(a.state, batch, 0, ctx)
    },
    /** Timer ticks every second over [from, to] seconds, as the shard host's interval. */
    tick(from: number, to: number) {
      for (let s = from; s <= to; s++) table.tick(t0 + s * 1000)
    },
    /** A checkpoint through the real codec. */
    checkpoint(s: number) {
      return checkpointCodec.unpack(checkpointCodec.pack(table.snapshot(t0 + s * 1000))) as ReturnType<ActorTable["snapshot"]>
    },
    silent: () => ctx.published.filter((p) => p.payload.rule === "device_silent").map((p) => `${p.payload.kind} ${p.payload.severity} @${(p.payload.at - t0) / 1000} ${p.msgId}`),
  }
}

describe("packed snapshots kept between checkpoints", () => {
  test("a checkpoint's bytes for every live actor are the bytes a fresh pack of its state gives, through readings, ticks, evictions, alerts raised, escalated and cleared", () => {
    const a = owner(3_600_000) // silent devices stay live: only their ticks can change them
    const fresh = packSnapshotOf(a.table)
    let compared = 0
    let reused = 0
    const check = (s: number) => {
      const before = new Map([...a.table.live].map(([id, l]) => [id, l.packed]))
      for (const [id, bytes] of a.table.snapshot(t0 + s * 1000).actors) {
        if (!a.table.live.has(id)) continue
        expect({ id, s, bytes: [...bytes] }).toEqual({ id, s, bytes: [...fresh(id)] })
        compared++
        if (before.get(id) !== undefined) reused++
      }
    }
    // Three devices: one talks throughout, one goes silent at 20 s (device_silent at 80 s,
    // escalated at 680 s), one talks in bursts with silences longer than its windows.
    for (let s = 0; s <= 900; s++) {
      if (s <= 300 || s % 97 < 5) a.read("bus-1", s)
      if (s <= 20) a.read("bus-2", s)
      if (s % 40 < 3) a.read("bus-3", s)
      a.tick(s, s)
      if (s % 7 === 0) check(s)
    }
    expect(a.silent().map((l) => l.split(" ").slice(0, 2).join(" "))).toEqual(expect.arrayContaining(["raised warning", "escalated critical"]))
    // Checkpoints that found a silent actor unchanged since the last one reused its bytes.
    expect(compared).toBeGreaterThan(150)
    expect(reused).toBeGreaterThan(20)
  })

  test("a tick reports no change when nothing a snapshot holds moved, and a change when a window evicts or a rule's phase moves", () => {
    const a = owner()
    const kind = a.table["kind"] as ActorKind<unknown>
    a.read("bus-1", 0)
    const st = a.table.live.get("bus-1")!.state
    const tickAt = (s: number) => {
      a.ctx.now = t0 + s * 1000
      return kind.onTick!(st, a.ctx)
    }
    expect(tickAt(1)).toBe(false)
    expect(tickAt(2)).toBe(false)
    expect(tickAt(11)).toBe(true) // the 10 s windows lose the reading
    expect(tickAt(12)).toBe(false)
    expect(tickAt(60)).toBe(true) // device_silent raised
    tickAt(650)
    const changedAt = [655, 659, 660, 661, 665].filter((s) => tickAt(s))
    expect(changedAt).toEqual([660]) // escalated to critical: the registers alone changed
  })
})

/** A fresh pack of a live actor's state, as the table packed it before it kept bytes. */
const packSnapshotOf = (table: ActorTable) => (id: string) => {
  const kind = table["kind"] as ActorKind<unknown>
  return packSnapshot(kind.snapshot(table.live.get(id)!.state))
}

describe("device timers across shard moves", () => {
  test("a device silent across a planned handoff gets device_silent on the new owner at 60 s, and its escalation at 10 min", () => {
    const a = owner()
    for (let s = 0; s <= 30; s++) {
      a.read("bus-1", s)
      a.read("bus-2", s)
      a.tick(s, s)
    }
    // bus-2 keeps talking; bus-1 went quiet after 30 s. The shard moves at 40 s (final checkpoint).
    for (let s = 31; s <= 40; s++) {
      a.read("bus-2", s)
      a.tick(s, s)
    }
    const cp = a.checkpoint(40)
    const b = owner()
    b.table.restore(cp.actors, cp.timers, t0 + 40_000)
    expect(b.table.live.size).toBe(0)
    for (let s = 41; s <= 800; s++) {
      if (s <= 45) b.read("bus-2", s)
      b.tick(s, s)
    }
    expect(a.silent()).toEqual([])
    expect(b.silent().map((l) => l.split(" ").slice(0, 3).join(" "))).toEqual([
      "raised warning @90", // bus-1: 60 s after its last reading
      "raised warning @105", // bus-2: 60 s after 45
      "escalated critical @690", // bus-1: 10 min after it was raised
      "escalated critical @705",
    ])
  })

  test("after a crash the new owner re-raises from an older checkpoint with the same transition id, so the alert stream keeps one", () => {
    const a = owner()
    for (let s = 0; s <= 30; s++) {
      a.read("bus-1", s)
      a.tick(s, s)
    }
    a.tick(31, 85)
    const cp = a.checkpoint(85) // the last checkpoint before the crash
    a.tick(86, 93) // raised at 90, published, then killed before the next checkpoint
    const b = owner()
    b.table.restore(cp.actors, cp.timers, t0 + 97_000)
    b.tick(97, 100) // the new owner took over at 97 s (suspicion timeout)
    expect(a.silent()).toEqual([`raised warning @90 bus-1:device_silent:31:raised:warning`])
    expect(b.silent()).toEqual([`raised warning @97 bus-1:device_silent:31:raised:warning`])
    // JetStream drops a publish whose msg id it has seen (AKIS_ALERTS duplicate window): one raise.
    const ids = new Set([...a.ctx.published, ...b.ctx.published].map((p) => p.msgId))
    expect(ids.size).toBe(1)
  })

  test("a passivated device is kept as its packed snapshot and, activated, goes on exactly as if its decoded snapshot had been kept", () => {
    const a = owner()
    for (let s = 0; s <= 30; s++) {
      a.read("bus-1", s)
      a.tick(s, s)
    }
    a.tick(31, 60)
    expect(a.table.live.has("bus-1")).toBe(false) // idle 20 s: passivated
    const kind = a.table["kind"]
    const bytes = a.table.passive.get("bus-1")!
    // A checkpoint (through the real codec) carries these very bytes, not a re-packing.
    expect(Buffer.from(a.checkpoint(60).actors[0]![1])).toEqual(Buffer.from(bytes))
    // The old way, on a twin owner: the actor restored from the decoded snapshot object.
    const b = owner()
    b.table.live.set("bus-1", { state: kind.restore("bus-1", unpackSnapshot(bytes), b.ctx), lastActive: t0 + 51_000, tickAt: 0 })
    for (const o of [a, b]) {
      o.read("bus-1", 61) // activates a's from its bytes
      for (let s = 62; s <= 200; s++) o.tick(s, s) // silent again: device_silent at 121
    }
    expect(a.silent().map((l) => l.split(" ").slice(0, 3).join(" "))).toEqual(["raised warning @121"])
    expect(a.ctx.published.map((p) => p.msgId)).toEqual(b.ctx.published.map((p) => p.msgId))
    const [snapA, snapB] = [a, b].map((o) => o.checkpoint(200).actors.map(([id, p]) => [id, Buffer.from(p)]))
    expect(snapA).toEqual(snapB)
    expect(unpackSnapshot(a.table.passive.get("bus-1")!)).toMatchObject({ v: 3 })
  })

  test("a silent device passivated on its own node is woken for its deadlines (no shard move)", () => {
    const a = owner()
    for (let s = 0; s <= 30; s++) {
      a.read("bus-1", s)
      a.tick(s, s)
    }
    const stuck = () => a.ctx.published.filter((p) => p.payload.rule === "stuck_sensor").map((p) => `${p.payload.kind} @${(p.payload.at - t0) / 1000}`)
    // Idle from 30 s: passivated once idle (20 s), with device_silent's absence deadline (30 + 60 s).
    a.tick(31, 89)
    expect(a.table.live.has("bus-1")).toBe(false)
    expect([...a.table.wakeups]).toEqual([["bus-1", t0 + 90_000]])
    // Woken at 90 and raised; passivated again. stuck_sensor (coolant unchanged 10 min, rpm > 600)
    // cannot fire before the coolant's last change (30 s) + 10 min, so the actor sleeps until then
    // instead of staying live, ticking every second, for the rule's whole horizon.
    a.tick(90, 629)
    expect(a.table.live.has("bus-1")).toBe(false)
    expect([...a.table.wakeups]).toEqual([["bus-1", t0 + 630_000]])
    expect(stuck()).toEqual([])
    a.tick(630, 700)
    expect(stuck()).toEqual(["raised @630"])
    expect(a.silent().map((l) => l.split(" ").slice(0, 3).join(" "))).toEqual(["raised warning @90", "escalated critical @690"])
    expect(a.table.metrics.wakeups).toBe(3) // at 90, 630 and 690
  })
})
