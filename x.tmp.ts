import { loadDeviceSchema } from "./config/device-schema.ts"
import { defaultRulesPath, loadRulesFile } from "./config/rules/index.ts"
import { makeDeviceKind, RuleSetHolder } from "./actors/index.ts"
import { BatchBuilder } from "./runtime/batch.ts"
const schema = loadDeviceSchema()
const l = loadRulesFile(defaultRulesPath, schema); if (!l.ok) throw 1
const set = l.set
const kind = makeDeviceKind(schema, new RuleSetHolder(set, 1))
const ctx = { now: 0, shard: 0, streamSeq: 0, publish() {}, store() {} }
const st = kind.create("bus-1", ctx)
const W = 48
const b = new BatchBuilder(W, 1, 1024)
const row = new Float64Array(W).fill(10)
for (let i = 0; i < 1000; i++) b.push("bus-1", i + 1, 1e12 + i * 500, row)
const batch = b.take(0)
const N = 300
// full
let s = performance.now()
const bs = []
for (let r = 0; r < N; r++) { const b2 = new BatchBuilder(W, 1, 1024); for (let i = 0; i < 1000; i++) { row[0] = Math.random()*100; row[7]= 80 + Math.random()*10; b2.push("bus-1", r * 1000 + i + 1, 1e12 + (r * 1000 + i) * 500, row) }; bs.push(b2.take(0)) }
s = performance.now()
for (let r = 0; r < N; r++) { for (let i = 0; i < 1000; i++) kind.onReading(st, bs[r]!, i, ctx) }
console.log("full", ((performance.now() - s) * 1000 / (N * 1000)).toFixed(3), "us")
// rules only
s = performance.now()
for (let r = 0; r < N; r++) for (let i = 0; i < 1000; i++) for (let k = 0; k < set.rules.length; k++) set.rules[k]!.when(batch.values, i * W, st.binding.params, st.windows, st.T, st.rules[k]!.slots, 1e12 + i * 500, false)
console.log("rules when", ((performance.now() - s) * 1000 / (N * 1000)).toFixed(3), "us")
s = performance.now()
for (let r = 0; r < N; r++) for (let i = 0; i < 1000; i++) set.updateTrackers(batch.values, i * W, st.T, 1e12 + i * 500)
console.log("trackers", ((performance.now() - s) * 1000 / (N * 1000)).toFixed(3), "us")
for (let k = 0; k < set.rules.length; k++) {
  const f = set.rules[k]!.when
  s = performance.now()
  for (let r = 0; r < N; r++) for (let i = 0; i < 1000; i++) f(batch.values, i * W, st.binding.params, st.windows, st.T, st.rules[k]!.slots, 1e12 + i * 500, false)
  console.log(set.rules[k]!.name, ((performance.now() - s) * 1e6 / (N * 1000)).toFixed(0), "ns")
}
