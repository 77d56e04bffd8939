import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { defaultRulesPath } from "../../config/rules/index.ts"
import type { ActorKind } from "../../runtime/actor-kind.ts"
import { ActorTable } from "../../runtime/actor-table.ts"
import { BatchBuilder } from "../../runtime/batch.ts"
import { makeDeviceKind } from "./behaviour.ts"
import { RuleSetHolder } from "./holder.ts"
import type { RuleSetPlan } from "../../config/rules/index.ts"
import { busSchema, compileOrFail, RecordingContext } from "./testing.ts"

const defaultSource = readFileSync(defaultRulesPath, "utf8")
// The default pack, plus timed rules whose when or clear the clock alone moves while they are not
// idle (the first flaps while a device is silent: raised at 20 s, cleared once rpm has held 50 s).
const clockSource = defaultSource.replace("\nrules:\n", `
rules:
  quiet_until_rpm_settles:
    when: absent(20s)
    clear: unchanged(engine_rpm, 50s)
    severity: info
  short_gap:
    when: absent(15s) and not absent(40s)
    for: 30s
    severity: info
`)
/** A pack and the same pack after a swap that renames a rule: its open alerts become orphans that the next tick clears. */
const packs = (source: string) => [compileOrFail(source), compileOrFail(source.replace("\n  speeding:", "\n  speeding_v2:"))] as const
const t0 = 1_700_000_000_000
const fields = busSchema.fields
const width = fields.length

/** mulberry32: a seeded generator, so a failure replays. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296
}

/** An owner of one shard with the real device kind; `everyTick` strips the kind's tickDue, as before it existed. */
const owner = (everyTick: boolean, actorIdleMs: number, pack: RuleSetPlan) => {
  const holder = new RuleSetHolder(pack, 1)
  const kind = { ...makeDeviceKind(busSchema, holder) } as ActorKind<unknown>
  if (everyTick) {
    delete kind.tickDue
    delete kind.epoch
  }
  const ctx = new RecordingContext()
  const table = new ActorTable(kind, ctx, { actorIdleMs, tickMs: 1_000 })
  return {
    ctx, table, holder,
    read(id: string, s: number, seq: number, row: Float64Array) {
      const b = new BatchBuilder(width, 1)
      b.push(id, seq, t0 + s * 1000, row)
      ctx.now = t0 + s * 1000
      const a = table.get(id, ctx.now)
      a.lastActive = ctx.now
      kind.onReading(a.state, b.take(ctx.now), 0, ctx)
    },
    /** Every actor's packed snapshot by id, and the timer index, as a checkpoint would hold them. */
    snapshot(s: number) {
      const snap = table.snapshot(t0 + s * 1000)
      return {
        actors: snap.actors.map(([id, p]) => `${id} ${Buffer.from(p).toString("base64")}`).sort(),
        timers: snap.timers.map(([id, at]) => `${id} ${at}`).sort(),
      }
    },
  }
}

/**
 * 24 devices over 40 simulated minutes: bursts of readings (every 1–3 s) with values that cross
 * the default pack's thresholds, silences of 5 s to 12 min (device_silent and its escalation),
 * devices whose coolant sensor sticks (stuck_sensor after 10 min), and a rule set swap at 20 min
 * that removes a rule with open alerts. Readings and a tick every second go to two owners: one
 * whose table skips the ticks the kind says cannot change an actor, one that ticks every live
 * actor every time.
 */
const run = (source: string, actorIdleMs: number, seed: number) => {
  const [pack, swapped] = packs(source)
  const rnd = prng(seed)
  const skip = owner(false, actorIdleMs, pack)
  const every = owner(true, actorIdleMs, pack)
  const devices = Array.from({ length: 24 }, (_, i) => {
    const row = new Float64Array(width)
    fields.forEach((f, k) => { row[k] = f.min + (f.max - f.min) * rnd() })
    return { id: `bus-${String(i).padStart(3, "0")}`, row, seq: 0, next: Math.floor(rnd() * 30), silentUntil: 0, every: 1 + Math.floor(rnd() * 3), stuck: i % 5 === 0 }
  })
  const coolant = busSchema.byName.get("coolant_temp_c")!.index
  const mismatches: string[] = []
  for (let s = 0; s <= 2400; s++) {
    if (s === 1200) for (const o of [skip, every]) o.holder.swap(swapped, 2)
    for (const d of devices) {
      if (s < d.next) continue
      if (s >= d.silentUntil && rnd() < 0.02) {
        // A silence: mostly short, sometimes past device_silent's minute, rarely past its 10-minute escalation.
        const r = rnd()
        d.silentUntil = s + (r < 0.6 ? 5 + Math.floor(rnd() * 40) : r < 0.9 ? 60 + Math.floor(rnd() * 200) : 600 + Math.floor(rnd() * 120))
        d.next = d.silentUntil
        continue
      }
      fields.forEach((f, k) => {
        if (k === coolant && d.stuck) return
        // Values keep still most of the time and jump across the range now and then.
        if (rnd() < 0.15) d.row[k] = f.min + (f.max - f.min) * rnd()
      })
      d.seq++
      for (const o of [skip, every]) o.read(d.id, s, d.seq, d.row)
      d.next = s + d.every
    }
    for (const o of [skip, every]) o.table.tick(t0 + s * 1000)
    if (s % 20 === 0) {
      const [a, b] = [skip.snapshot(s), every.snapshot(s)]
      if (JSON.stringify(a) !== JSON.stringify(b)) mismatches.push(`state differs at ${s} s`)
    }
  }
  const lines = (o: ReturnType<typeof owner>) => o.ctx.published.map((p) => `${p.msgId} ${p.payload.kind} ${p.payload.severity} ${p.payload.at}`)
  return { skip, every, mismatches, lines: [lines(skip), lines(every)] as const }
}

describe("ticks skipped while nothing is due", () => {
  test("skipping the ticks the device kind says cannot change an actor publishes the same transitions and keeps the same state as ticking every live actor every second", () => {
    for (const [source, actorIdleMs, seed] of [[defaultSource, 3_600_000, 1], [defaultSource, 20_000, 2], [clockSource, 3_600_000, 3], [clockSource, 3_600_000, 4]] as const) {
      const { skip, every, mismatches, lines } = run(source, actorIdleMs, seed)
      expect(mismatches).toEqual([])
      expect(lines[0]).toEqual(lines[1])
      // The scenario exercises what ticks do: absence raised and escalated, alerts cleared by the swap, windows evicted.
      const kinds = new Set(every.ctx.published.map((p) => `${p.payload.rule} ${p.payload.kind}`))
      for (const k of ["device_silent raised", "device_silent escalated", "stuck_sensor raised", "speeding cleared"]) expect(kinds).toContain(k)
      if (source === clockSource) expect(kinds).toContain("quiet_until_rpm_settles cleared")
      // With actors kept live through silences (the default pack, a long actorIdleMs), the skip is real: far fewer ticks ran.
      if (source === defaultSource && actorIdleMs > 60_000) expect(skip.table.metrics.ticked).toBeLessThan(every.table.metrics.ticked * 0.6)
    }
  })
})
