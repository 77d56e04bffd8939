import { makeDeviceKind, RuleSetHolder } from "./actors/index.ts"
import { loadDeviceSchema } from "./config/device-schema.ts"
import { defaultRulesPath, loadRulesFile } from "./config/rules/index.ts"
import { BatchBuilder } from "./runtime/batch.ts"
import { checkpointCodec, packSnapshot, unpackSnapshot } from "./runtime/snapshot-codec.ts"
const schema = loadDeviceSchema()
const loaded = loadRulesFile(defaultRulesPath, schema) as any
const kind = makeDeviceKind(schema, new RuleSetHolder(loaded.plan, 1))
const ctx: any = { now: 0, shard: 0, streamSeq: 0, publish: () => {}, store: () => {} }
const width = schema.fields.length
const row = new Float64Array(width)
const N = 2000
const states: any[] = []
const t0 = 1_700_000_000_000
const readings = Number(process.argv[2] ?? 1)
for (let d = 0; d < N; d++) {
  const st = kind.create(`bus-${d}`, ctx)
  for (let k = 0; k < readings; k++) {
    const b = new BatchBuilder(width, schema.version, 1)
    schema.fields.forEach((f, i) => { const x = f.min + (f.max - f.min) * (0.4 + 0.05 * Math.sin(k * 0.013 + i * 0.7 + d)); row[i] = f.kind === "bool" ? 0 : f.kind === "int" ? Math.round(x) : x })
    b.push(`bus-${d}`, k + 1, t0 + k * 100, row)
    const batch = b.take(t0 + k * 100)
    ctx.now = t0 + k * 100
    kind.onReading(st, batch, 0, ctx)
  }
  states.push(st)
}
const time = (name: string, f: (i: number) => unknown) => {
  for (let r = 0; r < 3; r++) { const t = performance.now(); for (let i = 0; i < N; i++) f(i); if (r === 2) console.log(name.padEnd(22), ((performance.now() - t) * 1000 / N).toFixed(1), "µs") }
}
const snaps = states.map((s) => kind.snapshot(s))
const packed = snaps.map((s) => checkpointCodec.pack(s).slice())
const defl = packed.map((p) => Bun.deflateSync(p, { level: 1 }))
console.log("msgpack bytes", packed[0]!.length, "deflated", defl[0]!.length)
time("snapshotState", (i) => kind.snapshot(states[i]))
time("msgpack pack", (i) => checkpointCodec.pack(snaps[i]))
time("deflate", (i) => Bun.deflateSync(packed[i]!, { level: 1 }))
time("packSnapshot total", (i) => packSnapshot(kind.snapshot(states[i])))
time("inflate", (i) => Bun.inflateSync(defl[i]!))
time("msgpack unpack", (i) => checkpointCodec.unpack(packed[i]!))
const unp = packed.map((p) => checkpointCodec.unpack(p))
time("restoreState", (i) => kind.restore(`bus-${i}`, unp[i], ctx))
time("unpack+restore total", (i) => kind.restore(`bus-${i}`, unpackSnapshot(defl[i]!), ctx))
ctx.now = t0 + readings * 100 + 5000
time("onTick", (i) => kind.onTick!(states[i], ctx))
import { Packr } from "msgpackr"
const seqCodec = new Packr({ useRecords: true, moreTypes: true, sequential: true } as any)
console.log("seq bytes", seqCodec.pack(snaps[0]).length)
time("seq pack", (i) => seqCodec.pack(snaps[i]))
const sp = snaps.map((s) => seqCodec.pack(s).slice())
time("seq unpack", (i) => seqCodec.unpack(sp[i]!))
console.log(JSON.stringify(snaps[0], (k, v) => (ArrayBuffer.isView(v) ? `<${v.constructor.name} ${(v as any).length}>` : v)).slice(0, 3000))
