/**
 * SIGKILL of the node delivering notifications mid-stream: the standby takes the lease, every
 * transition reaches the receiver, and the only repeats are deliveries the killed node had not
 * recorded as acknowledged (their done marks were written after the kill, by the successor).
 */
import { afterAll, expect, test } from "bun:test"
import { jetstream } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { doneKeyOf } from "../actors/notifier/index.ts"
import { ensureAlertsStream } from "../actors/sink/index.ts"
import { alertSubject, type AlertTransition } from "../runtime/alert.ts"
import { spawnChild, startHttpReceiver, startNats, tempDir, waitFor, type Child, type HttpReceiver, type NatsServer } from "./harness/index.ts"
import { testTopology } from "./support/topology.ts"
import { natsPorts } from "../runtime/nats/nats-ports.ts"

let nats: NatsServer | undefined
let nc: NatsConnection | undefined
let hook: HttpReceiver | undefined
const children: Child[] = []
afterAll(async () => {
  for (const c of children) await c.kill("SIGKILL").catch(() => {})
  await nc?.close()
  await hook?.stop()
  await nats?.cleanup()
})

const root = join(import.meta.dir, "..")

test("SIGKILL of the active notifier mid-stream: every transition delivered, repeats only the unacknowledged", async () => {
  nats = await startNats()
  nc = await nats.connect()
  await ensureAlertsStream((await natsPorts(nc)).setup, testTopology)
  // Each answer takes 40 ms: at the kill, up to `concurrency` requests are in the receiver's hands.
  hook = startHttpReceiver({ delayMs: 40 })
  const dir = tempDir("akis-notify-failover-")
  const file = join(dir, "akis.yaml")
  writeFileSync(file, `
node: { roles: [notifier], heartbeatMs: 200, suspicionMs: 1000, dataDir: ${dir} }
nats: { servers: ["${nats.url}"] }
streams: { telemetryMaxAgeHours: ${testTopology.telemetryMaxAgeHours}, alertsMaxAgeHours: ${testTopology.alertsMaxAgeHours}, telemetryMaxMB: ${testTopology.telemetryMaxMB}, alertsMaxMB: ${testTopology.alertsMaxMB} }
interpreter: { enabled: false }
notify:
  concurrency: 8
  digestThreshold: 100000
  cap: { max: 100000, windowMs: 60000 }
  channels:
    hook: { type: webhook, url: "${hook.url}/in", secret: k, severities: [], groups: [] }
`)
  const at = Date.UTC(2026, 10, 25, 12, 0, 0)
  const ts: AlertTransition[] = Array.from({ length: 400 }, (_, i) => {
    const alertId = `bus-${i}:overheating:${i + 1}`
    return {
      id: `${alertId}:raised:warning`, alertId, device: `bus-${i}`, rule: "overheating", kind: "raised", severity: "warning", at: at + i,
      seq: i + 1, message: "hot", values: { coolant_temp_c: 110 }, channels: ["hook"], ruleVersion: 1, recvAt: at,
    }
  })
  const js = jetstream(nc)
  for (const t of ts) await js.publish(alertSubject(t), JSON.stringify(t), { msgID: t.id })

  for (const id of ["nf1", "nf2"]) {
    children.push(spawnChild(id, ["bun", join(root, "ops/main-node.ts")], { cwd: root, env: { AKIS_CONFIG: file, AKIS_NODE__ID: id } }))
  }
  const active = await waitFor("an active notifier", () => children.find((c) => c.output().includes('"event":"notify.active"')), { timeoutMs: 30_000 })
  const standby = children.find((c) => c !== active)!
  await waitFor("deliveries under way", () => hook!.requests.length >= 100, { timeoutMs: 30_000 })
  await active.kill("SIGKILL")
  const killedAt = Date.now()
  const before = hook.requests.length
  expect(before).toBeLessThan(ts.length) // the kill happened mid-stream

  await waitFor("standby takes over", () => standby.output().includes('"event":"notify.active"'), { timeoutMs: 15_000 })
  const want = new Set(ts.map((t) => `${t.id}@hook`))
  await waitFor("every transition delivered", () => hook!.acceptedKeys().size === want.size, { timeoutMs: 60_000 })
  expect(hook.acceptedKeys()).toEqual(want)

  // Repeats: counted with sets of idempotency keys.
  const seen = new Map<string, number>()
  for (const r of hook.requests) seen.set(r.key, (seen.get(r.key) ?? 0) + 1)
  const repeated = [...seen].filter(([, n]) => n > 1).map(([k]) => k)
  console.log(`failover: ${hook.requests.length} requests for ${want.size} transitions, ${repeated.length} repeated, ${before} before the kill`)
  expect(repeated.length).toBeLessThanOrEqual(8) // at most the deliveries in flight at the kill
  expect([...seen.values()].every((n) => n <= 2)).toBe(true)
  // Each repeat was one the killed node had not recorded as acknowledged: its done mark came later.
  const kv = await new Kvm(nc).open("akis_notify")
  for (const k of repeated) {
    const e = await kv.get(doneKeyOf(k))
    expect(e?.created.getTime()).toBeGreaterThanOrEqual(killedAt - 5)
    // … and the receiver first saw it just before the kill (in flight), never long before.
    const first = hook.requests.find((r) => r.key === k)!
    expect(first.receivedAt).toBeGreaterThan(killedAt - 2_000)
  }
}, 120_000)
