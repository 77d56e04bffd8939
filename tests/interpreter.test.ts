/**
 * The interpreter against an Ollama-compatible fake through the real `ollama` client: the
 * explanation is built from the rule's description, values, windows and history, stored in
 * ClickHouse and shown by `ops notify explain`; a slow, failing or absent model changes nothing
 * for the alerts themselves (stored and acked without waiting), the backlog stays bounded and
 * every alert not explained is counted.
 */
import { afterAll, beforeAll, expect, test } from "bun:test"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { join } from "node:path"
import { makeOllamaModel, startInterpreter, type Interpreter } from "../actors/interpreter/index.ts"
import { alerts, ensureAlertsStream, explanationsOf, makeClickHouseStore, migrate, startAlertWriter, type AlertWriter, type Store } from "../actors/sink/index.ts"
import type { InterpreterConfig } from "../config/notify-schema.ts"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { alertSubject, type AlertTransition } from "../runtime/alert.ts"
import {
  fakeExplanation, spawnChild, startClickHouse, startNats, startOllamaFake, waitFor, type ClickHouseServer, type NatsServer, type OllamaFake,
} from "./harness/index.ts"
import { testTopology } from "./support/topology.ts"
import { natsPorts } from "../runtime/nats/nats-ports.ts"

let nats: NatsServer
let ch: ClickHouseServer
let nc: NatsConnection
let store: Store
let writer: AlertWriter
let fake: OllamaFake
const running: Interpreter[] = []
let contextCalls = 0

beforeAll(async () => {
  ;[nats, ch] = await Promise.all([startNats(), startClickHouse()])
  nc = await nats.connect()
  store = makeClickHouseStore({ url: ch.url, database: "default", user: "default", password: "", requestTimeoutMs: 30_000 })
  await migrate(store, loadDeviceSchema())
  await ensureAlertsStream((await natsPorts(nc)).setup, testTopology)
  writer = await startAlertWriter({ nats: await natsPorts(nc), store, consumer: "akis_sink_alerts", topology: testTopology })
  fake = startOllamaFake()
}, 120_000)
afterAll(async () => {
  for (const i of running) await i.stop().catch(() => {})
  await writer?.stop()
  await fake?.stop()
  await nc?.close()
  await store?.close()
  await Promise.all([nats?.cleanup(), ch?.cleanup()])
})

const now = Date.now()
let seq = 0
const transition = (o: Partial<AlertTransition> = {}): AlertTransition => {
  const s = ++seq
  const device = o.device ?? `bus-${s}`
  const alertId = `${device}:overheating:${s}`
  const kind = o.kind ?? "raised"
  return {
    id: `${alertId}:${kind}:warning`, alertId, device, rule: "overheating", kind, severity: "warning", at: now + s, seq: s,
    message: "avg(coolant_temp_c, 10s) > 105", values: { "avg(coolant_temp_c,10s)": 112.4 + s / 1000 }, channels: [], ruleVersion: 1, recvAt: now + s, ...o,
  }
}
const publish = async (ts: AlertTransition[]) => {
  const js = jetstream(nc)
  for (const t of ts) await js.publish(alertSubject(t), JSON.stringify(t), { msgID: t.id })
}
const cfg = (consumer: string, o: Partial<InterpreterConfig> = {}): InterpreterConfig => ({
  enabled: true, consumer, host: fake.url, model: "phi3:mini", api: "chat", stream: false, timeoutMs: 2_000, maxConcurrent: 2, maxBacklog: 16,
  maxAgeMs: 600_000, breakerFailures: 3, breakerCooldownMs: 60_000, cacheSize: 16, historyMinutes: 60, ...o,
})
const start = async (c: InterpreterConfig, log?: (event: string, fields: Record<string, unknown>) => void) => {
  const i = await startInterpreter({
    nats: await natsPorts(nc), config: c, log,
    model: makeOllamaModel({ host: c.host, model: c.model, api: c.api, stream: c.stream, timeoutMs: c.timeoutMs }),
    context: {
      description: (rule) => (rule === "overheating" ? "Coolant above the limit for half a minute." : ""),
      windows: async () => (contextCalls++, { "coolant_temp_c:10000ms": { count: 20, avg: 112.4, max: 115.1, min: null } }),
      history: async (device) => [`2 alert transitions on ${device} in the 60 minutes before: overheating (warning) ×2`],
    },
  })
  running.push(i)
  return i
}

test("a raised alert is explained from its description, values, windows and history; stored and shown by ops", async () => {
  await (await jetstreamManager(nc)).streams.purge("AKIS_ALERTS")
  const i = await start(cfg("akis_interpret_a", { api: "generate", stream: true }))
  const t = transition({ device: "bus-0042" })
  const cleared = transition({ device: "bus-0042", kind: "cleared" })
  await publish([t, cleared])
  await waitFor("explained", () => i.metrics.explained === 1)
  // The clear is not explained; nor is the explanation itself (it is on the same stream).
  await waitFor("clear and annotation skipped", () => i.metrics.skipped === 2)
  expect(i.metrics.considered).toBe(1)
  const asked = fake.requests.at(-1)!
  expect(asked.path).toBe("/api/generate")
  const prompt = String(asked.body.prompt)
  expect(prompt).toContain("Coolant above the limit for half a minute.")
  expect(prompt).toContain("avg(coolant_temp_c,10s)=112.4")
  expect(prompt).toContain("coolant_temp_c:10000ms: count=20, avg=112.4, max=115.1")
  expect(prompt).toContain("overheating (warning) ×2")
  const text = fakeExplanation(prompt.split("\n")[0]!)
  const stored = await waitFor("stored", async () => (await explanationsOf(store, t.alertId)).at(0), { timeoutMs: 20_000 })
  expect(stored).toMatchObject({ transitionId: t.id, alertId: t.alertId, device: "bus-0042", model: "phi3:mini", text, cached: false })
  expect(await alerts(store, { from: now - 1, to: now + 1_000_000, device: "bus-0042" })).toHaveLength(2)

  const root = join(import.meta.dir, "..")
  const cli = spawnChild("ops", ["bun", join(root, "ops/cli.ts"), "notify", "explain", t.alertId], { cwd: root, env: { AKIS_CLICKHOUSE__URL: ch.url } })
  expect(await cli.exited).toBe(0)
  expect(cli.output()).toContain(text)
  expect(cli.output()).toContain(t.id)

  // The same situation on another device comes from the cache: no second model call.
  const calls = fake.requests.length
  await publish([transition({ device: "bus-0043", values: t.values })])
  await waitFor("cached", () => i.metrics.cacheHits === 1)
  expect(fake.requests.length).toBe(calls)
  await i.stop()
}, 60_000)

test("Ollama slow, failing or down: alerts are stored without waiting, the backlog stays bounded, what is dropped is counted", async () => {
  await (await jetstreamManager(nc)).streams.purge("AKIS_ALERTS")
  fake.mode.delayMs = 30_000 // a model slower than the whole test step (the benchmark uses 5 s)
  const i = await start(cfg("akis_interpret_b", { maxConcurrent: 1, maxBacklog: 4, timeoutMs: 60_000, cacheSize: 0 }))
  const jsm = await jetstreamManager(nc)
  const storedBefore = writer.metrics.stored
  const ts = Array.from({ length: 40 }, () => transition())
  await publish(ts)
  // Every alert reaches ClickHouse while the model has answered none of them.
  await waitFor("alerts stored", () => writer.metrics.stored - storedBefore === 40, { timeoutMs: 20_000 })
  expect(i.metrics.explained).toBe(0)
  expect(fake.requests.length).toBeGreaterThan(0) // the model was asked (and is still thinking)
  const info = await jsm.consumers.info("AKIS_ALERTS", "akis_interpret_b")
  expect(info.num_ack_pending).toBeLessThanOrEqual(4) // the backlog in the interpreter's hands
  expect(info.num_pending).toBeGreaterThan(30) // the rest waits in the stream, not in memory
  await i.stop() // does not wait for the model's answer
  fake.mode.delayMs = 0

  // Failing model: the breaker opens after 3 failures; later alerts are dropped without a call, counted.
  fake.mode.behaviour = "fail"
  contextCalls = 0
  const f = await start(cfg("akis_interpret_c", { maxConcurrent: 1, maxBacklog: 8, cacheSize: 0 }))
  await waitFor("all 40 taken up", () => f.metrics.failures + f.metrics.droppedBreakerOpen === 40, { timeoutMs: 20_000 })
  expect(f.metrics).toMatchObject({ failures: 3, breakerOpened: 1, droppedBreakerOpen: 37, explained: 0 })
  expect(contextCalls).toBe(3) // an open breaker asks neither the actors nor ClickHouse
  await f.stop()

  // Malformed answers and a model that is not there at all.
  fake.mode.behaviour = "malformed"
  const m = await start(cfg("akis_interpret_d", { breakerFailures: 100, cacheSize: 0 }))
  await waitFor("malformed counted", () => m.metrics.malformed === 40, { timeoutMs: 20_000 })
  await m.stop()
  fake.mode.behaviour = "ok"
  const d = await start(cfg("akis_interpret_e", { host: "http://127.0.0.1:1", breakerFailures: 100, cacheSize: 0 }))
  await waitFor("unreachable counted", () => d.metrics.failures === 40, { timeoutMs: 20_000 })
  expect(d.metrics.explained).toBe(0)
  await d.stop()
  expect(writer.metrics.stored - storedBefore).toBe(40) // and the alerts were all there all along
}, 90_000)

test("a malformed transition is counted as skipped and logged once with the field, and the interpreter goes on", async () => {
  await (await jetstreamManager(nc)).streams.purge("AKIS_ALERTS")
  const lines: Array<Record<string, unknown>> = []
  const i = await start(cfg("akis_interpret_w"), (event, fields) => lines.push({ event, ...fields }))
  const js = jetstream(nc)
  for (const severity of ["fatal", "dire"]) {
    const bad = transition({ device: "bus-0777" })
    await js.publish(alertSubject(bad), JSON.stringify({ ...bad, severity }), { msgID: `${bad.id}:bad` })
  }
  await publish([transition({ device: "bus-0778" })])
  await waitFor("the good one explained", () => i.metrics.explained === 1)
  await waitFor("both bad ones and the explanation skipped", () => i.metrics.skipped === 3)
  const malformed = lines.filter((l) => l.event === "interpreter.malformed")
  expect(malformed).toEqual([{ event: "interpreter.malformed", kind: "alert transition", reason: expect.stringContaining("severity: Expected") }])
}, 60_000)
