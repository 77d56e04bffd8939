/**
 * Probe (not part of `ops bench`): what the shard's timer tick costs with many live device actors
 * that report rarely, with and without skipping the actors the device kind says cannot change
 * (ActorKind.tickDue). `devices` actors on the default rule pack, kept live (actorIdleMs 300 s, the
 * default), each sending one reading every `every` seconds (staggered: devices/every readings a
 * second, as the scale bench's fleet); a tick every second for `seconds` simulated seconds. Prints
 * the CPU time of the ticks alone, per tick and per live actor. docs/benchmarks-history.md quotes it.
 *
 *   bun ops/benchmarks/probes/tick-cost.ts [devices, default 20000] [every s, default 100] [seconds, default 300]
 */
import { makeDeviceKind, RuleSetHolder } from "../../../actors/index.ts"
import { loadDeviceSchema } from "../../../config/device-schema.ts"
import { defaultRulesPath, formatIssue, loadRulesFile } from "../../../config/rules/index.ts"
import type { ActorContext, ActorKind } from "../../../runtime/actor-kind.ts"
import { ActorTable } from "../../../runtime/actor-table.ts"
import { BatchBuilder } from "../../../runtime/batch.ts"

const devices = Number(process.argv[2] ?? 20_000)
const every = Number(process.argv[3] ?? 100)
const seconds = Number(process.argv[4] ?? 300)
const schema = loadDeviceSchema()
const loaded = loadRulesFile(defaultRulesPath, schema)
if (!loaded.ok) throw new TypeError(loaded.issues.map(formatIssue).join("\n"))
const width = schema.fields.length
// Mid-range values: no rule fires, as for most of a real fleet most of the time.
const row = new Float64Array(schema.fields.map((f) => (f.min + f.max) / 2))
const t0 = 1_700_000_000_000

const measure = (skip: boolean) => {
  const kind = { ...makeDeviceKind(schema, new RuleSetHolder(loaded.plan, 1)) } as ActorKind<unknown>
  if (!skip) {
    delete kind.tickDue
    delete kind.epoch
  }
  const ctx: ActorContext & { now: number } = { now: t0, shard: 0, streamSeq: 0, publish: () => {}, store: () => {} }
  const table = new ActorTable(kind, ctx, { actorIdleMs: 300_000, tickMs: 1_000 })
  const ids = Array.from({ length: devices }, (_, d) => `bus-${d}`)
  const seqs = new Array<number>(devices).fill(0)
  const read = (d: number, now: number) => {
    const b = new BatchBuilder(width, 1)
    b.push(ids[d]!, ++seqs[d]!, now, row)
    ctx.now = now
    const a = table.get(ids[d]!, now)
    a.lastActive = now
    kind.onReading(a.state, b.take(now), 0, ctx)
  }
  // Everyone reports once (the fleet connected), then the staggered rhythm.
  for (let d = 0; d < devices; d++) read(d, t0)
  let tickMs = 0
  let ticks = 0
  for (let s = 1; s <= seconds; s++) {
    const now = t0 + s * 1000
    for (let d = s % every; d < devices; d += every) read(d, now)
    const c0 = process.cpuUsage()
    table.tick(now)
    const c = process.cpuUsage(c0)
    if (s > every) { tickMs += (c.user + c.system) / 1000; ticks++ } // after every device's first rhythm reading
  }
  return { skip, live: table.live.size, ticks_run: table.metrics.ticked, ms_per_tick: +(tickMs / ticks).toFixed(2), us_per_live_actor: +((tickMs * 1000) / ticks / table.live.size).toFixed(3) }
}

const results = [measure(false), measure(true), measure(false), measure(true)]
for (const r of results) console.error(JSON.stringify(r))
const best = (skip: boolean) => Math.min(...results.filter((r) => r.skip === skip).map((r) => r.ms_per_tick))
console.log(JSON.stringify({ devices, every_s: every, seconds, ms_per_tick_every_actor: best(false), ms_per_tick_skipping: best(true), cores_every_actor: +(best(false) / 1000).toFixed(3), cores_skipping: +(best(true) / 1000).toFixed(4) }))
