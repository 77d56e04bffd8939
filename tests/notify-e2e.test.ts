/**
 * The whole path on one node (roles worker + notifier): readings on AKIS_TLM → the device actor
 * with the default rule pack raises and clears `speeding` (channels [email]) → the notifier mails
 * both to a real SMTP server → the interpreter asks the Ollama-compatible fake with the rule's
 * description and the actor's live windows, and publishes the explanation on the stream.
 */
import { afterAll, expect, test } from "bun:test"
import { DeliverPolicy, jetstream } from "@nats-io/jetstream"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { parseExplanation } from "../actors/interpreter/index.ts"
import { loadDeviceSchema } from "../config/device-schema.ts"
import { BatchBuilder, encodeBatch, ensureStreams, shardOf, telemetrySubject } from "../runtime/index.ts"
import { jetstreamManager } from "@nats-io/jetstream"
import { spawnChild, startNats, startOllamaFake, tempDir, waitFor, type Child, type NatsServer, type OllamaFake } from "./harness/index.ts"
import { startSmtpSink, type SmtpSink } from "./support/smtp.ts"
import { testTopology } from "./support/topology.ts"

let nats: NatsServer | undefined
let nc: NatsConnection | undefined
let smtp: SmtpSink | undefined
let ollama: OllamaFake | undefined
let node: Child | undefined
afterAll(async () => {
  await node?.kill("SIGKILL")
  await nc?.close()
  await smtp?.stop()
  await ollama?.stop()
  await nats?.cleanup()
})

const root = join(import.meta.dir, "..")

test("a speeding bus: alert raised and cleared by its actor, both mailed, the raise explained", async () => {
  nats = await startNats()
  nc = await nats.connect()
  smtp = await startSmtpSink()
  ollama = startOllamaFake()
  const dir = tempDir("akis-notify-e2e-")
  const P = 4
  const file = join(dir, "akis.yaml")
  writeFileSync(file, `
cluster: { partitions: ${P} }
node: { roles: [worker, notifier], heartbeatMs: 300, suspicionMs: 2000, checkpointMs: 1000, dataDir: ${dir} }
nats: { servers: ["${nats.url}"] }
streams: { telemetryMaxAgeHours: ${testTopology.telemetryMaxAgeHours}, alertsMaxAgeHours: ${testTopology.alertsMaxAgeHours}, telemetryMaxMB: ${testTopology.telemetryMaxMB}, alertsMaxMB: ${testTopology.alertsMaxMB} }
clickhouse: { url: "chdb:${join(dir, "chdb")}" }
sink: { flushMs: 200 }
interpreter: { host: "${ollama.url}", timeoutMs: 5000 }
notify:
  channels:
    email: { type: email, host: 127.0.0.1, port: ${smtp.port}, secure: false, user: "", pass: "", from: akis@test.local, to: [ops@test.local], severities: [], groups: [] }
`)
  node = spawnChild("n1", ["bun", join(root, "ops/main-node.ts")], { cwd: root, env: { AKIS_CONFIG: file, AKIS_NODE__ID: "n1" } })
  await node.waitForLine(/interpreter\.started/, 60_000)
  await waitFor("shards taken", () => (node!.output().match(/"event":"shard.start"/g) ?? []).length === P, { timeoutMs: 30_000 })

  // 20 s of event time at 10 Hz: 2 s at 50 km/h, 8 s at 110 (speeding holds 5 s → raised), 10 s at 50 (clear after 5 s).
  const schema = loadDeviceSchema()
  const speed = schema.byName.get("speed_kmh")!.index
  const device = "bus-0007"
  const t0 = Date.now() - 30_000
  const js = jetstream(nc)
  await ensureStreams(await jetstreamManager(nc), testTopology)
  for (let second = 0; second < 20; second++) {
    const b = new BatchBuilder(schema.fields.length, 1)
    for (let k = 0; k < 10; k++) {
      const i = second * 10 + k
      const row = new Float64Array(schema.fields.length).fill(Number.NaN)
      row[speed] = second >= 2 && second < 10 ? 110 : 50
      b.push(device, i + 1, t0 + i * 100, row)
    }
    await js.publish(telemetrySubject(shardOf(device, P)), encodeBatch(b.take(Date.now())), { msgID: `e2e-${second}` })
  }

  await waitFor("raised and cleared mailed", () => smtp!.mails.length >= 2, { timeoutMs: 30_000 })
  const subjects = smtp.mails.map((m) => m.subject)
  expect(subjects).toEqual([
    expect.stringMatching(/^\[akis\] WARNING speeding raised on bus-0007/),
    expect.stringMatching(/^\[akis\] WARNING speeding cleared on bus-0007/),
  ])
  const key = String(smtp.mails[0]!.headers.get("x-akis-idempotency-key"))
  expect(key).toMatch(/^bus-0007:speeding:\d+:raised:warning@email$/)

  // The explanation: asked with the rule's description and the actor's live windows, published on the stream.
  const asked = await waitFor("model asked", () => ollama!.requests.find((r) => JSON.stringify(r.body).includes("speeding")), { timeoutMs: 20_000 })
  const prompt = (asked.body.messages as Array<{ role: string; content: string }>).find((m) => m.role === "user")!.content
  expect(prompt).toContain("Above the group's speed limit for 5 s")
  expect(prompt).toContain("Current window aggregates:")
  expect(prompt).toMatch(/speed_kmh:\d+ms: count=/)
  const c = await js.consumers.get("AKIS_ALERTS", { deliver_policy: DeliverPolicy.All, filter_subjects: `akis.alerts.explanation.${device}` })
  const m = await waitFor("explanation on the stream", async () => (await c.next({ expires: 1_000 })) ?? undefined, { timeoutMs: 20_000 })
  const x = parseExplanation(m.data)!
  expect(x).toMatchObject({ kind: "explanation", device, rule: "speeding", transitionId: key.replace(/@email$/, ""), model: "phi3:mini" })
  expect(x.text).toStartWith("Explanation of: Alert raised: rule \"speeding\" on device bus-0007")
}, 120_000)
