/**
 * Probe (not part of `ops bench`): what packing and waking one device actor costs, µs per device,
 * with the default rule pack: snapshotState, msgpack, deflate (packSnapshot), inflate, msgpack
 * unpack, restore (activation), and one tick. 2,000 devices that each handled `readings` readings
 * 100 ms apart (1: the reconnect storm's case, every device woke by its first reading); and the
 * same for the keyed version 2 form the snapshot had before the flat version 3
 * (actors/device/snapshot-flat.ts); and zstd level 1 against deflate level 1. docs/benchmarks-history.md
 * quotes it (sessions of 2026-11-26 noon, afternoon and late afternoon).
 *
 *   bun ops/benchmarks/probes/snapshot-cost.ts [readings per device, default 1]
 */
import { makeDeviceKind, RuleSetHolder } from "../../../actors/index.ts"
import { loadDeviceSchema } from "../../../config/device-schema.ts"
import { defaultRulesPath, formatIssue, loadRulesFile } from "../../../config/rules/index.ts"
import type { ActorContext } from "../../../runtime/actor-kind.ts"
import { BatchBuilder } from "../../../runtime/batch.ts"
import { checkpointCodec, packSnapshot, unpackSnapshot } from "../../../runtime/snapshot-codec.ts"
import { keyedSnapshot, type DeviceState } from "../../../actors/device/state.ts"

const readings = Number(process.argv[2] ?? 1)
const devices = 2_000
const schema = loadDeviceSchema()
const loaded = loadRulesFile(defaultRulesPath, schema)
if (!loaded.ok) throw new TypeError(loaded.issues.map(formatIssue).join("\n"))
const kind = makeDeviceKind(schema, new RuleSetHolder(loaded.plan, 1))
const ctx: { -readonly [K in keyof ActorContext]: ActorContext[K] } = { now: 0, shard: 0, streamSeq: 0, publish: () => {}, store: () => {} }
const width = schema.fields.length
const row = new Float64Array(width)
const t0 = 1_700_000_000_000
const states = Array.from({ length: devices }, (_, d) => {
  const st = kind.create(`bus-${d}`, ctx)
  for (let k = 0; k < readings; k++) {
    schema.fields.forEach((f, i) => {
      const x = f.min + (f.max - f.min) * (0.4 + 0.05 * Math.sin(k * 0.013 + i * 0.7 + d))
      row[i] = f.kind === "bool" ? 0 : f.kind === "int" ? Math.round(x) : x
    })
    const b = new BatchBuilder(width, schema.version, 1)
    b.push(`bus-${d}`, k + 1, t0 + k * 100, row)
    ctx.now = t0 + k * 100
    kind.onReading(st, b.take(ctx.now), 0, ctx)
  }
  return st
})

/** µs per device of `f`, the third of three passes (the first two warm the JIT). */
const time = (f: (i: number) => unknown) => {
  let us = 0
  for (let pass = 0; pass < 3; pass++) {
    const t = performance.now()
    for (let i = 0; i < devices; i++) f(i)
    us = ((performance.now() - t) * 1000) / devices
  }
  return Math.round(us * 10) / 10
}
const snaps = states.map((s) => kind.snapshot(s))
const packed = snaps.map((s) => (checkpointCodec.pack(s) as Uint8Array).slice())
const deflated = packed.map((p) => Bun.deflateSync(p as Uint8Array<ArrayBuffer>, { level: 1 }))
const kept = states.map((s) => packSnapshot(kind.snapshot(s)))
const unpacked = packed.map((p) => checkpointCodec.unpack(p))
// zstd level 1 (Bun.zstdCompressSync) against deflate level 1, the codec's choice (2026-11-26 late afternoon).
const zstd = packed.map((p) => Bun.zstdCompressSync(p as Uint8Array<ArrayBuffer>, { level: 1 }))
const keyed = states.map((s) => keyedSnapshot(s as DeviceState))
const keyedDeflated = keyed.map((s) => packSnapshot(s))
ctx.now = t0 + readings * 100 + 5_000
const us = {
  snapshot_state: time((i) => kind.snapshot(states[i]!)),
  msgpack_pack: time((i) => checkpointCodec.pack(snaps[i])),
  deflate: time((i) => Bun.deflateSync(packed[i]! as Uint8Array<ArrayBuffer>, { level: 1 })),
  pack_snapshot: time((i) => packSnapshot(kind.snapshot(states[i]!))),
  inflate: time((i) => Bun.inflateSync(deflated[i]! as Uint8Array<ArrayBuffer>)),
  zstd: time((i) => Bun.zstdCompressSync(packed[i]! as Uint8Array<ArrayBuffer>, { level: 1 })),
  unzstd: time((i) => Bun.zstdDecompressSync(zstd[i]! as Uint8Array<ArrayBuffer>)),
  msgpack_unpack: time((i) => checkpointCodec.unpack(packed[i]!)),
  restore_state: time((i) => kind.restore(`bus-${i}`, unpacked[i], ctx)),
  unpack_and_restore: time((i) => kind.restore(`bus-${i}`, unpackSnapshot(kept[i]!), ctx)),
  tick: time((i) => kind.onTick!(states[i]!, ctx)),
  v2_pack_snapshot: time((i) => packSnapshot(keyedSnapshot(states[i]! as DeviceState))),
  v2_unpack_and_restore: time((i) => kind.restore(`bus-${i}`, unpackSnapshot(keyedDeflated[i]!), ctx)),
}
console.log(JSON.stringify({ readings, devices, msgpack_bytes: packed[0]!.length, deflated_bytes: deflated[0]!.length, zstd_bytes: zstd[0]!.length, kept_bytes: kept[0]!.length, v2_kept_bytes: keyedDeflated[0]!.length, us_per_device: us }))
