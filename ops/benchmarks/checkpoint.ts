import { Kvm } from "@nats-io/kv"
import { makeDeviceKind, RuleSetHolder, type DeviceState } from "../../actors/index.ts"
import { loadDeviceSchema, type DeviceSchema } from "../../config/device-schema.ts"
import { defaultRulesPath, formatIssue, loadRulesFile, type RuleSetPlan } from "../../config/rules/index.ts"
import type { ActorContext } from "../../runtime/actor-kind.ts"
import { BatchBuilder } from "../../runtime/batch.ts"
import { Checkpoints, checkpointCodec, checkpointDefaults } from "../../runtime/checkpoints.ts"
import { packSnapshot, unpackSnapshot } from "../../runtime/snapshot-codec.ts"
import { ensureBuckets } from "../../runtime/nats/topology.ts"
import { startNats } from "../../tests/harness/index.ts"
import type { Benchmark } from "./index.ts"

const log = (s: string) => process.stderr.write(`[bench checkpoint] ${s}\n`)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const ms = (x: number) => Math.round(x * 10) / 10

/**
 * `devices` device actors with the default pack after `seconds` of readings at `hz` (event time;
 * processing follows it). Values wander inside each field's range, so windows hold distinct doubles.
 */
const grow = (schema: DeviceSchema, set: RuleSetPlan, devices: number, hz: number, seconds: number) => {
  const kind = makeDeviceKind(schema, new RuleSetHolder(set, 1))
  const ctx: { -readonly [K in keyof ActorContext]: ActorContext[K] } = { now: 0, shard: 0, streamSeq: 0, publish: () => {}, store: () => {} }
  const states = new Map<string, DeviceState>()
  const width = schema.fields.length
  const row = new Float64Array(width)
  const t0 = 1_700_000_000_000
  const ticks = Math.round(seconds * hz)
  const perBatch = Math.max(1, Math.floor(2_000 / devices))
  for (let k0 = 0; k0 < ticks; k0 += perBatch) {
    const b = new BatchBuilder(width, schema.version, devices * perBatch)
    for (let k = k0; k < Math.min(ticks, k0 + perBatch); k++) {
      for (let d = 0; d < devices; d++) {
        schema.fields.forEach((f, i) => {
          const x = f.min + (f.max - f.min) * (0.4 + 0.05 * Math.sin(k * 0.013 + i * 0.7 + d))
          row[i] = f.kind === "bool" ? 0 : f.kind === "int" ? Math.round(x) : x
        })
        b.push(`bus-${d}`, k + 1, t0 + (k * 1000) / hz + d, row)
      }
    }
    const batch = b.take(t0)
    for (let i = 0; i < batch.ids.length; i++) {
      const id = batch.ids[i]!
      ctx.now = batch.ts[i]!
      let st = states.get(id)
      if (!st) states.set(id, (st = kind.create(id, ctx)))
      kind.onReading(st, batch, i, ctx)
    }
  }
  return { kind, states, ctx }
}

/**
 * Largest gap between event-loop turns while `work` runs: what a heartbeat timer due in that
 * time would be late by. A 1 ms interval is the probe.
 */
const maxStall = async <T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> => {
  let last = performance.now()
  let worst = 0
  const probe = setInterval(() => {
    const now = performance.now()
    worst = Math.max(worst, now - last)
    last = now
  }, 1)
  try {
    const result = await work()
    worst = Math.max(worst, performance.now() - last)
    return { result, stallMs: worst }
  } finally {
    clearInterval(probe)
  }
}

/**
 * One shard's checkpoint as the shard host takes it, against a real nats-server: snapshot every
 * device actor (synchronous in the host), then `Checkpoints.write` (pack, synchronous until its
 * first await; then object-store put if over one KV value, and the fenced KV update). Reported
 * per scenario, median of `runs`: the synchronous part, the whole write, the longest event-loop
 * stall seen by a 1 ms timer, the size, and a restore (read + every actor restored).
 */
const benchmark: Benchmark = {
  description: "shard checkpoint: snapshot + pack + write (object store when large) with the default rule pack",
  async run({ runs = 5 }) {
    const schema = loadDeviceSchema()
    const loaded = loadRulesFile(defaultRulesPath, schema)
    if (!loaded.ok) throw new TypeError(loaded.issues.map(formatIssue).join("\n"))
    const ns = await startNats()
    try {
      const b = await ensureBuckets(new Kvm(await ns.connect()), { replicas: 1, telemetryMaxAgeHours: 1, alertsMaxAgeHours: 1 })
      const store = new Checkpoints(b.snapshots, { objects: b.snapshotObjects })
      const scenarios = [
        { name: "12dev_100hz", devices: 12, hz: 100, seconds: 600 },
        { name: "62dev_2hz", devices: 62, hz: 2, seconds: 600 },
      ]
      const out: Record<string, unknown> = { inline_limit_bytes: checkpointDefaults.inlineBytes }
      for (const [shard, sc] of scenarios.entries()) {
        log(`${sc.name}: ${sc.devices} devices, ${sc.seconds} s at ${sc.hz} Hz ...`)
        const { kind, states, ctx } = grow(schema, loaded.plan, sc.devices, sc.hz, sc.seconds)
        let { revision } = await store.claim(shard, 1, "bench", 0)
        const r = { snapshot: [] as number[], pack: [] as number[], sync: [] as number[], write: [] as number[], stall: [] as number[], restore: [] as number[] }
        let bytes = 0
        for (let i = 0; i < runs + 1; i++) {
          const { stallMs, result } = await maxStall(async () => {
            const t0 = performance.now()
            const actors = [...states].map(([id, st]) => [id, packSnapshot(kind.snapshot(st))] as const)
            const t1 = performance.now()
            const pending = store.write({ shard, streamSeq: i + 1, epoch: 1, owner: "bench", at: i, actors }, revision)
            const t2 = performance.now()
            revision = await pending
            const t3 = performance.now()
            return { snapshot: t1 - t0, sync: t2 - t0, write: t3 - t1, actors }
          })
          // pack alone, outside the timed write (write packs once; this only splits its synchronous part)
          const p0 = performance.now()
          bytes = checkpointCodec.pack({ shard, streamSeq: i + 1, epoch: 1, owner: "bench", at: i, actors: result.actors }).length
          const packMs = performance.now() - p0
          const r0 = performance.now()
          const { checkpoint } = await store.read(shard)
          for (const [id, packed] of checkpoint!.actors) kind.restore(id, unpackSnapshot(packed), ctx)
          const restoreMs = performance.now() - r0
          if (i === 0) continue // warm-up: JIT, first object-store put
          r.snapshot.push(result.snapshot)
          r.pack.push(packMs)
          r.sync.push(result.sync)
          r.write.push(result.write)
          r.stall.push(stallMs)
          r.restore.push(restoreMs)
        }
        const head = (await store.head(shard)).head!
        Object.assign(out, {
          [`${sc.name}_bytes`]: bytes,
          [`${sc.name}_in_object_store`]: head.object !== undefined,
          [`${sc.name}_snapshot_ms`]: ms(median(r.snapshot)),
          [`${sc.name}_pack_ms`]: ms(median(r.pack)),
          [`${sc.name}_sync_ms`]: ms(median(r.sync)),
          [`${sc.name}_write_ms`]: ms(median(r.write)),
          [`${sc.name}_total_ms`]: ms(median(r.snapshot) + median(r.write)),
          [`${sc.name}_max_stall_ms`]: ms(median(r.stall)),
          [`${sc.name}_restore_ms`]: ms(median(r.restore)),
        })
        log(`${sc.name}: ${(bytes / 1e6).toFixed(2)} MB, sync ${ms(median(r.sync))} ms, write ${ms(median(r.write))} ms`)
      }
      return out
    } finally {
      await ns.cleanup()
    }
  },
}
export default benchmark
