/**
 * The interpreter's context sources as a notifier node wires them: the device actor's windows over
 * the RPC router (a responder on akis.rpc.<shard> stands in for the owning node), the rule's
 * description from the rule set, and a history summary from ClickHouse (chDB).
 */
import { afterAll, expect, test } from "bun:test"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { makeChdbStore, migrate, writeAlerts, type Store } from "../actors/sink/index.ts"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { linkRuleSet } from "../actors/device/index.ts"
import { loadRulesFile, defaultRulesPath } from "../config/rules/index.ts"
import { rpcSubject, shardOf, type AlertTransition } from "../runtime/index.ts"
import { contextSources } from "../ops/lib/notify-role.ts"
import { startNats, tempDir, type NatsServer } from "./harness/index.ts"

let nats: NatsServer | undefined
let nc: NatsConnection | undefined
let store: Store | undefined
afterAll(async () => {
  await nc?.close()
  await store?.close()
  await nats?.cleanup()
})

test("windows come from the owning actor, history from ClickHouse, description from the rule set", async () => {
  nats = await startNats()
  nc = await nats.connect()
  const schema = loadDeviceSchema()
  store = makeChdbStore(tempDir("akis-chdb-ctx-"))
  await migrate(store, schema)
  const loaded = loadRulesFile(defaultRulesPath, schema)
  if (!loaded.ok) throw new Error("default rules do not load")
  const P = 8
  const windows = { "speed_kmh:5000ms": { count: 10, avg: 96.5, max: 110 } }
  const asked: unknown[] = []
  const sub = nc.subscribe(rpcSubject(shardOf("bus-0042", P)), {
    callback: (_, m) => {
      asked.push(m.json())
      m.respond(JSON.stringify({ ok: true, result: { id: "bus-0042", windows } }))
    },
  })
  const at = Date.UTC(2026, 10, 25, 12, 0, 0)
  const t = (i: number, rule: string): AlertTransition => ({
    id: `bus-0042:${rule}:${i}:raised:warning`, alertId: `bus-0042:${rule}:${i}`, device: "bus-0042", rule, kind: "raised", severity: "warning",
    at: at - i * 60_000, seq: i, message: "", values: {}, channels: [], ruleVersion: 1, recvAt: 0,
  })
  await writeAlerts(store, [t(1, "speeding"), t(2, "speeding"), t(3, "overheating"), t(90, "speeding")], Date.now())
  const rules = linkRuleSet(loaded.plan)
  const ctx = contextSources(nc, P, store, () => rules, 60)
  expect(await ctx.windows("bus-0042")).toEqual(windows)
  expect(asked).toEqual([{ kind: "device", id: "bus-0042", request: {} }])
  expect(await ctx.history("bus-0042", at + 1)).toEqual(["3 alert transitions on bus-0042 in the 60 minutes before: speeding (warning) ×2, overheating (warning) ×1"])
  expect(await ctx.history("bus-0099", at)).toEqual(["no other alerts on bus-0099 in the 60 minutes before"])
  expect(ctx.description("speeding")).toContain("speed limit")
  expect(ctx.description("no_such_rule")).toBe("")
  sub.unsubscribe()
}, 30_000)
