/**
 * Notifiers against real receivers: a webhook endpoint and an SMS provider (local HTTP), a real
 * SMTP server, NATS JetStream. Content, signatures, idempotency keys, throttle and caps,
 * retries through an outage, and the dead-letter path (also through `ops notify dead-letters`).
 */
import { afterAll, beforeAll, expect, test } from "bun:test"
import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { createHmac } from "node:crypto"
import { join } from "node:path"
import type { NotifyConfig } from "../config/notify-schema.ts"
import { listDeadLetters, messageIdOf, signWebhook, startNotifier, type Notifier } from "../actors/notifier/index.ts"
import { ensureAlertsStream } from "../actors/sink/index.ts"
import { alertSubject, type AlertTransition } from "../runtime/alert.ts"
import { spawnChild, startHttpReceiver, startNats, waitFor, type HttpReceiver, type NatsServer } from "./harness/index.ts"
import { startSmtpSink, type SmtpSink } from "./support/smtp.ts"
import { testTopology } from "./support/topology.ts"
import { natsPorts } from "../runtime/nats/nats-ports.ts"

let nats: NatsServer
let nc: NatsConnection
let hook: HttpReceiver
let smsApi: HttpReceiver
let smtp: SmtpSink
const running: Notifier[] = []

beforeAll(async () => {
  nats = await startNats()
  nc = await nats.connect()
  await ensureAlertsStream((await natsPorts(nc)).setup, testTopology)
  hook = startHttpReceiver()
  smsApi = startHttpReceiver({ status: 201 })
  smtp = await startSmtpSink()
})
afterAll(async () => {
  for (const n of running) await n.stop().catch(() => {})
  await nc?.close()
  await Promise.all([hook?.stop(), smsApi?.stop(), smtp?.stop()])
  await nats?.cleanup()
})

const at = Date.UTC(2026, 10, 25, 12, 0, 0)
let seq = 0
const transition = (o: Partial<AlertTransition> = {}): AlertTransition => {
  const s = ++seq
  const device = o.device ?? `bus-${s}`
  const rule = o.rule ?? "overheating"
  const alertId = o.alertId ?? `${device}:${rule}:${s}`
  const kind = o.kind ?? "raised"
  const severity = o.severity ?? "warning"
  return {
    id: `${alertId}:${kind}:${severity}`, alertId, device, rule, kind, severity, at: o.at ?? at + s, seq: s,
    message: `coolant_temp_c avg 10s = 112.4 > 105`, values: { coolant_temp_c: 112.4 }, channels: ["hook"], ruleVersion: 3, recvAt: at, ...o,
  }
}
const publish = async (ts: AlertTransition[]) => {
  const js = jetstream(nc)
  for (const t of ts) await js.publish(alertSubject(t), JSON.stringify(t), { msgID: t.id })
}

const config = (consumer: string, over: Partial<NotifyConfig> = {}): NotifyConfig => ({
  consumer, bucket: `${consumer}_kv`, maxAttempts: 4, retryMinMs: 50, retryMaxMs: 200, timeoutMs: 2_000, concurrency: 8,
  digestWindowMs: 60_000, digestThreshold: 1_000, cap: { max: 1_000, windowMs: 3_600_000 }, capByRule: {},
  channels: {
    hook: { type: "webhook", url: `${hook.url}/akis`, secret: "s3cret", severities: [], groups: [] },
    mail: { type: "email", host: "127.0.0.1", port: smtp.port, secure: false, user: "", pass: "", from: "akis@test.local", to: ["ops@test.local", "oncall@test.local"], severities: [], groups: [] },
    sms: { type: "sms", url: `${smsApi.url}/2010-04-01`, accountSid: "AC123", authToken: "tok", from: "+15550100", to: ["+15550101"], severities: ["critical"], groups: [] },
  },
  ...over,
})
const start = async (cfg: NotifyConfig, throttleMs = 0, purge = true, log?: (event: string, fields: Record<string, unknown>) => void) => {
  // Each test's consumer reads the stream from the start: begin from an empty stream.
  if (purge) await (await jetstreamManager(nc)).streams.purge("AKIS_ALERTS")
  const n = await startNotifier({
    nats: await natsPorts(nc), config: cfg, nodeId: "n1", log, heartbeatMs: 100, suspicionMs: 1_000, facts: () => ({ throttleMs, groups: [] }), ackWaitMs: 1_000, topology: testTopology,
  })
  running.push(n)
  await waitFor("notifier active", () => n.active)
  return n
}

test("each channel delivers with the right content, signature and idempotency key", async () => {
  const n = await start(config("akis_notify_a"))
  const warn = transition({ device: "bus-0042", channels: ["hook", "mail", "sms"] })
  const crit = transition({ device: "bus-0043", severity: "critical", channels: ["hook", "mail", "sms"] })
  await publish([warn, crit])
  await waitFor("deliveries", () => hook.requests.length >= 2 && smtp.mails.length >= 2 && smsApi.requests.length >= 1)

  // Webhook: JSON body, HMAC-SHA256 over "<timestamp>.<body>", key = transition id + channel.
  for (const t of [warn, crit]) {
    const r = hook.requests.find((x) => x.key === `${t.id}@hook`)!
    expect(r.path).toBe("/akis")
    // Checked as a receiver would, independently of our signing code.
    const expected = createHmac("sha256", "s3cret").update(`${r.headers["x-akis-timestamp"]}.${r.body}`).digest("hex")
    expect(r.headers["x-akis-signature"]).toBe(`sha256=${expected}`)
    expect(signWebhook("s3cret", r.headers["x-akis-timestamp"]!, r.body)).toBe(`sha256=${expected}`)
    expect(Math.abs(Number(r.headers["x-akis-timestamp"]) - Date.now() / 1000)).toBeLessThan(60)
    const body = JSON.parse(r.body)
    expect(body).toMatchObject({ type: "alert", key: `${t.id}@hook`, channel: "hook", transition: t })
    expect(body.text).toContain(`${t.rule} raised on ${t.device}`)
  }
  // E-mail: both recipients, subject, body values, Message-ID from the key, the key as a header.
  const mail = smtp.mails.find((m) => m.subject?.includes("bus-0042"))!
  expect(mail.subject).toBe("[akis] WARNING overheating raised on bus-0042: coolant_temp_c avg 10s = 112.4 > 105")
  expect(mail.text).toContain("coolant_temp_c=112.4")
  expect(mail.messageId).toBe(messageIdOf(`${warn.id}@mail`))
  expect(mail.headers.get("x-akis-idempotency-key")).toBe(`${warn.id}@mail`)
  expect(smtp.rcpts[smtp.mails.indexOf(mail)]).toEqual(["ops@test.local", "oncall@test.local"])
  // SMS: only the critical one (route by severity), Twilio-shaped form POST with basic auth.
  await Bun.sleep(300)
  expect(smsApi.requests).toHaveLength(1)
  const sms = smsApi.requests[0]!
  expect(sms.path).toBe("/2010-04-01/Accounts/AC123/Messages.json")
  expect(sms.headers.authorization).toBe(`Basic ${Buffer.from("AC123:tok").toString("base64")}`)
  expect(sms.headers["i-twilio-idempotency-token"]).toBe(`${crit.id}@sms#+15550101`)
  const form = new URLSearchParams(sms.body)
  expect(form.get("To")).toBe("+15550101")
  expect(form.get("From")).toBe("+15550100")
  expect(form.get("Body")).toBe("akis: CRITICAL overheating raised on bus-0043: coolant_temp_c avg 10s = 112.4 > 105")
  await waitFor("settled", () => n.metrics.delivered === 5)
  expect(n.metrics).toMatchObject({ received: 2, delivered: 5, filtered: 1, deadLettered: 0 })
  await n.stop()
}, 30_000)

test("throttle and frequency cap: 30 anomalies in a minute give the configured number of messages", async () => {
  const before = hook.requests.length
  // Rule throttle 10 min: 30 raises of one rule on one device within a minute → 1 message.
  const n = await start(config("akis_notify_b", { capByRule: { harsh_braking: { max: 4, windowMs: 60_000 } } }), 600_000)
  const sameDevice = Array.from({ length: 30 }, (_, i) => transition({ device: "bus-7", rule: "overheating", at: at + i * 2_000 }))
  // Cap 4 per minute for harsh_braking: 30 devices within a minute → 4 messages.
  const manyDevices = Array.from({ length: 30 }, (_, i) => transition({ device: `bus-${100 + i}`, rule: "harsh_braking", at: at + i * 2_000 }))
  await publish([...sameDevice, ...manyDevices])
  await waitFor("all decided", () => n.metrics.received === 60)
  await waitFor("sent", () => n.metrics.delivered === 5)
  await Bun.sleep(300)
  const got = hook.requests.slice(before)
  expect(got).toHaveLength(5)
  expect(got.filter((r) => r.body.includes('"rule":"overheating"'))).toHaveLength(1)
  expect(got.filter((r) => r.body.includes('"rule":"harsh_braking"'))).toHaveLength(4)
  expect(n.metrics).toMatchObject({ throttled: 29, capped: 26 })
  await n.stop()
}, 30_000)

test("a storm becomes a digest: past the threshold one message carries the rest", async () => {
  const before = hook.requests.length
  const n = await start(config("akis_notify_c", { digestThreshold: 3, digestWindowMs: 500 }))
  const storm = Array.from({ length: 20 }, (_, i) => transition({ device: `bus-${200 + i}`, at: at + 10_000_000 + i }))
  await publish(storm)
  await waitFor("digest sent", () => n.metrics.digestsSent === 1, { timeoutMs: 10_000 })
  const got = hook.requests.slice(before)
  expect(got).toHaveLength(4)
  const digest = JSON.parse(got.find((r) => r.body.includes('"type":"digest"'))!.body)
  expect(digest.count).toBe(17)
  expect(new Set(digest.transitions.map((t: AlertTransition) => t.id))).toEqual(new Set(storm.slice(3).map((t) => t.id)))
  await n.stop()
}, 30_000)

test("a receiver failing then recovering gets every notification; retries are counted", async () => {
  const before = hook.requests.length
  hook.mode.status = 503
  const n = await start(config("akis_notify_d", { maxAttempts: 100, retryMinMs: 50, retryMaxMs: 100 }))
  const ts = Array.from({ length: 25 }, (_, i) => transition({ device: `bus-${300 + i}` }))
  await publish(ts)
  await waitFor("failing attempts", () => n.metrics.failedAttempts >= 50)
  expect(n.metrics.delivered).toBe(0)
  hook.mode.status = 200
  await waitFor("all delivered", () => n.metrics.delivered === 25, { timeoutMs: 15_000 })
  const accepted = new Set(hook.requests.slice(before).filter((r) => r.status === 200).map((r) => r.key))
  expect(accepted).toEqual(new Set(ts.map((t) => `${t.id}@hook`)))
  expect(n.metrics.retries).toBeGreaterThanOrEqual(50)
  expect(n.metrics.deadLettered).toBe(0)
  const jsm = await jetstreamManager(nc)
  await waitFor("all acked", async () => (await jsm.consumers.info("AKIS_ALERTS", "akis_notify_d")).num_ack_pending === 0)
  await n.stop()
}, 40_000)

test("after maxAttempts a delivery becomes a dead letter, visible in ops; a refused one at once", async () => {
  const n = await start(config("akis_notify_e", {
    maxAttempts: 3,
    channels: {
      hook: { type: "webhook", url: `${hook.url}/akis`, secret: "", severities: [], groups: [] },
      mail: { type: "email", host: "127.0.0.1", port: smtp.port, secure: false, user: "", pass: "", from: "akis@test.local", to: ["ops@test.local"], severities: [], groups: [] },
    },
  }))
  hook.mode.status = 503
  smtp.refuseWith = 550
  const t = transition({ device: "bus-dead", channels: ["hook", "mail"] })
  await publish([t])
  await waitFor("dead letters", () => n.metrics.deadLettered === 2)
  hook.mode.status = 200
  smtp.refuseWith = undefined
  const dead = await listDeadLetters((await natsPorts(nc)).js)
  const mine = dead.filter((d) => d.key.startsWith(t.id))
  expect(mine.map((d) => [d.key, d.channel, d.attempts])).toEqual(expect.arrayContaining([[`${t.id}@hook`, "hook", 3], [`${t.id}@mail`, "mail", 1]]))
  expect(mine.find((d) => d.channel === "mail")!.error).toContain("550")
  // The operator's view.
  const root = join(import.meta.dir, "..")
  const cli = spawnChild("ops", ["bun", join(root, "ops/cli.ts"), "notify", "dead-letters", "--json"], { cwd: root, env: { AKIS_NATS__SERVERS: nats.url } })
  expect(await cli.exited).toBe(0)
  const shown = JSON.parse(cli.output().trim().split("\n").pop()!) as Array<{ key: string }>
  expect(shown.map((d) => d.key)).toEqual(expect.arrayContaining([`${t.id}@hook`, `${t.id}@mail`]))
  const st = spawnChild("ops", ["bun", join(root, "ops/cli.ts"), "notify", "status", "--json"], {
    cwd: root, env: { AKIS_NATS__SERVERS: nats.url, AKIS_NOTIFY__CONSUMER: "akis_notify_e", AKIS_NOTIFY__BUCKET: "akis_notify_e_kv" },
  })
  expect(await st.exited).toBe(0)
  const status = JSON.parse(st.output().trim().split("\n").pop()!)
  expect(status).toMatchObject({ active: { holder: "n1" }, deadLetters: 2, notifier: { ackPending: 0 } })
  await n.stop()
}, 40_000)

test("stopping while deliveries retry leaves them unacknowledged; the next notifier delivers them", async () => {
  const before = hook.requests.length
  hook.mode.status = 503
  const cfg = config("akis_notify_f", { maxAttempts: 1_000, retryMinMs: 50, retryMaxMs: 100 })
  const first = await start(cfg)
  const ts = Array.from({ length: 6 }, (_, i) => transition({ device: `bus-${400 + i}` }))
  await publish(ts)
  await waitFor("retrying", () => first.metrics.failedAttempts >= 12)
  await first.stop() // returns although the receiver is still down (the test's timeout would say otherwise)
  expect(first.metrics).toMatchObject({ delivered: 0, deadLettered: 0 })
  hook.mode.status = 200
  const second = await start(cfg, 0, false)
  await waitFor("delivered by the next notifier", () => second.metrics.delivered === 6, { timeoutMs: 15_000 })
  expect(new Set(hook.requests.slice(before).filter((r) => r.status === 200).map((r) => r.key))).toEqual(new Set(ts.map((t) => `${t.id}@hook`)))
  await second.stop()
}, 40_000)

test("a delivery decided for a channel that a restart removed from config becomes a dead letter, not a loss", async () => {
  hook.mode.status = 503
  const first = await start(config("akis_notify_g", { maxAttempts: 1_000, retryMinMs: 50, retryMaxMs: 100 }))
  const t = transition({ device: "bus-gone" })
  await publish([t])
  await waitFor("retrying", () => first.metrics.failedAttempts >= 2)
  await first.stop()
  hook.mode.status = 200
  const { hook: _removed, ...rest } = config("akis_notify_g").channels
  const second = await start(config("akis_notify_g", { channels: rest }), 0, false)
  await waitFor("dead-lettered", () => second.metrics.deadLettered === 1, { timeoutMs: 15_000 })
  const dead = (await listDeadLetters((await natsPorts(nc)).js)).find((d) => d.key === `${t.id}@hook`)!
  expect(dead).toMatchObject({ channel: "hook", attempts: 0 })
  expect(dead.error).toContain("not configured")
  await second.stop()
}, 40_000)

test("malformed transitions and explanations are counted as skipped and logged once each, and delivery goes on", async () => {
  const lines: Array<Record<string, unknown>> = []
  const n = await start(config("akis_notify_w"), 0, true, (event, fields) => lines.push({ event, ...fields }))
  const js = jetstream(nc)
  for (let i = 0; i < 2; i++) {
    const bad = transition({ device: "bus-0900" })
    await js.publish(alertSubject(bad), JSON.stringify({ ...bad, values: { coolant_temp_c: "hot" } }), { msgID: `${bad.id}:bad` })
  }
  await js.publish("akis.alerts.explanation.bus-0900", JSON.stringify({ kind: "explanation", transitionId: "x", alertId: "x", device: "bus-0900", rule: "r", at: "noon", text: "" }))
  const good = transition({ device: "bus-0901" })
  await publish([good])
  await waitFor("the good one delivered", () => hook.requests.some((r) => r.key === `${good.id}@hook`))
  await waitFor("the bad ones skipped", () => n.metrics.skipped === 3)
  expect(n.metrics.received).toBe(1)
  expect(lines.filter((l) => l.event === "notify.malformed").map((l) => [l.kind, String(l.reason).match(/(values\.coolant_temp_c|at): Expected \w+/)?.[0]])).toEqual([
    ["alert transition", "values.coolant_temp_c: Expected number"],
    ["explanation", "at: Expected number"],
  ])
  await n.stop()
}, 30_000)
