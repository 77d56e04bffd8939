import { afterAll, expect, test } from "bun:test"
import type { DeviceState } from "../actors/index.ts"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { applyRules, openRulesKv } from "../ops/lib/rules-store.ts"
import { startDeviceRules } from "../ops/lib/device-rules.ts"
import type { ActorContext } from "../runtime/actor-kind.ts"
import type { AlertTransition } from "../runtime/alert.ts"
import { BatchBuilder } from "../runtime/batch.ts"
import { startNats, tempDir, waitFor, type NatsServer } from "./harness/index.ts"
import { testTopology } from "./support/topology.ts"
import { writeFileSync } from "node:fs"
import { join } from "node:path"

const schema = loadDeviceSchema()
const v1 = `
rules:
  hot:
    when: avg(coolant_temp_c, 10s) > 100
  fast:
    when: speed_kmh > 80
`
let ns: NatsServer | undefined
afterAll(async () => { await ns?.cleanup() })

/**
 * One node's view of a hot reload: readings flow into device actors while `ops rules apply`
 * stores a new version; the node's KV watcher swaps the shared holder, and every device picks the
 * new set up at its next reading. The changed rule takes effect; the unchanged rule keeps its
 * window and its open alert (no second "raised").
 */
test("a rule set applied through KV takes effect on the next readings without losing unchanged state", async () => {
  ns = await startNats()
  const nc = await ns.connect()
  const kv = await openRulesKv(nc, testTopology)
  // The node starts from its rules file, then follows KV: the first stored version replaces it.
  const file = join(tempDir("akis-rules-"), "start.yaml")
  writeFileSync(file, "rules:\n  idle:\n    when: speed_kmh < 0\n")
  const events: string[] = []
  const rules = await startDeviceRules(nc, schema, file, (e) => void events.push(e), testTopology)
  expect(rules.holder.current.rules.map((r) => r.name)).toEqual(["idle"])
  await applyRules(kv, v1, "v1.yaml", schema, Date.now())
  const { holder, kind } = rules
  await waitFor("v1 from KV", () => holder.version === 1)
  expect(events).toEqual(["rules_loaded", "rules_applied"])

  const out: AlertTransition[] = []
  const ctx: { -readonly [K in keyof ActorContext]: ActorContext[K] } = {
    now: 0, shard: 0, streamSeq: 0, publish: (_s, p) => void out.push(p as AlertTransition), store: () => {},
  }
  const devices = ["bus-1", "bus-2", "bus-3"]
  const states = new Map<string, DeviceState>(devices.map((id) => [id, kind.create(id, ctx)]))
  const row = new Float64Array(schema.fields.length).fill(NaN)
  row[schema.byName.get("coolant_temp_c")!.index] = 110
  row[schema.byName.get("speed_kmh")!.index] = 85
  let seq = 0
  const feed = (n: number) => {
    for (let k = 0; k < n; k++) {
      seq++
      const b = new BatchBuilder(schema.fields.length, 1)
      for (const id of devices) b.push(id, seq, 1_700_000_000_000 + seq * 500, row)
      const batch = b.take(0)
      ctx.now = 1_700_000_000_000 + seq * 500
      batch.ids.forEach((id, i) => kind.onReading(states.get(id)!, batch, i, ctx))
    }
  }
  feed(30)
  expect(out.map((t) => `${t.device} ${t.rule} ${t.kind}`).sort()).toEqual(
    devices.flatMap((d) => [`${d} fast raised`, `${d} hot raised`]).sort(),
  )
  out.length = 0

  // v2 raises the speed limit above 85 (fast must clear) and keeps hot unchanged.
  const applied = Date.now()
  await applyRules(kv, v1.replace("speed_kmh > 80", "speed_kmh > 90"), "v2.yaml", schema, applied)
  await waitFor("v2 from KV", () => holder.version === 2, { timeoutMs: 2000 })
  expect(Date.now() - applied).toBeLessThan(2000)
  feed(1)
  expect(out.map((t) => `${t.device} ${t.rule} ${t.kind} v${t.ruleVersion}`).sort()).toEqual(
    devices.map((d) => `${d} fast cleared v2`).sort(),
  )
  const q = kind.query(states.get("bus-1")!, {}) as { alerts: Array<{ rule: string }>; windows: Record<string, { count: number }> }
  expect(q.alerts.map((a) => a.rule)).toEqual(["hot"])
  expect(q.windows["coolant_temp_c:10000ms"]!.count).toBe(20)
  expect(kind.metrics.clearedByReload).toBe(3)
  await rules.stop()
}, 30_000)
