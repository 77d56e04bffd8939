/**
 * The HTTP API against a running cluster: nats-server, ClickHouse, two nodes with roles
 * [worker, gateway, api], a small simulated fleet with an injected overheat, tokens made with
 * `ops tokens create`, and the same routes again through the real nginx (HTTPS).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Kvm } from "@nats-io/kv"
import parsePrometheus from "parse-prometheus-text-format"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { allRoutes } from "../gateway/http/index.ts"
import { expectedStatus, routeSamples, type Who } from "../gateway/http/testing.ts"
import { freePort, startClickHouse, startNats, startNginx, tempDir, waitFor, type Child, type ClickHouseServer, type Nginx, type NatsServer } from "./harness/index.ts"
import { startApiCluster, type ApiCluster } from "../ops/lib/api-cluster.ts"
import { events } from "./support/cluster.ts"
import { shardOf } from "../runtime/index.ts"

const root = join(import.meta.dir, "..")
let ns: NatsServer
let ch: ClickHouseServer
let dir: string
let cluster: ApiCluster
let nginx: Nginx | undefined
let apiPorts: number[]
let tokens: Record<string, string>
let fleet: Child
const ops = (args: string[]) => cluster.ops(args)

beforeAll(async () => {
  ;[ns, ch] = await Promise.all([startNats(), startClickHouse()])
  dir = tempDir("akis-api-")
  cluster = await startApiCluster({
    natsUrl: ns.url, clickhouseUrl: ch.url, dir, ids: ["a1", "a2"], devices: 20, partitions: 8,
    env: {
      AKIS_NODE__HEARTBEATMS: "500", AKIS_NODE__SUSPICIONMS: "2000", AKIS_NODE__CHECKPOINTMS: "1000", AKIS_SINK__FLUSHMS: "200",
      // Timer ticks slide windows with processing time; without them a device's state stays still once
      // its readings stop, so the API and `ops actor` can be compared exactly.
      AKIS_RULES__TICKMS: "600000",
      AKIS_API__RATELIMITPERSEC: "100000", AKIS_API__RATEBURST: "100000",
    },
    tokens: { "t-viewer": "viewer", "t-operator": "operator", "t-admin": "admin" },
  })
  apiPorts = cluster.apiPorts
  tokens = { viewer: cluster.tokens["t-viewer"]!, operator: cluster.tokens["t-operator"]!, admin: cluster.tokens["t-admin"]! }
}, 180_000)

afterAll(async () => {
  await nginx?.stop()
  await cluster?.stop(true) // the last test stopped NATS: a graceful stop would wait for it
  await Promise.all([ns?.cleanup(), ch?.cleanup()])
})

const base = (i = 0) => cluster.base(i)
const get = (url: string, token?: string, init: RequestInit = {}) =>
  fetch(url, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string> | undefined) }, tls: { rejectUnauthorized: false } } as RequestInit)
const metricsOf = async (url: string) => parsePrometheus(await (await get(`${url}/metrics`)).text())
const counter = (fams: ReturnType<typeof parsePrometheus>, name: string) =>
  (fams.find((f) => f.name === name)?.metrics ?? []).reduce((n, m) => n + Number(m.value ?? 0), 0)

describe("api on a running cluster", () => {
  test("an injected anomaly's alert reaches the SSE stream; live state equals `ops actor`; /metrics parses and its counters move", async () => {
    // SSE client first, so it sees the transition as it is published.
    const sse = await get(`${base(1)}/api/v1/alerts/stream?access_token=${tokens.viewer}&device=bus-0003`)
    expect(sse.status).toBe(200)
    const reader = sse.body!.getReader()
    let sseText = ""
    const sseDone = (async () => {
      const dec = new TextDecoder()
      while (!sseText.includes('"kind":"raised"')) {
        const { value, done } = await reader.read()
        if (done) break
        sseText += dec.decode(value)
      }
    })()

    const before = await metricsOf(base(0))
    fleet = cluster.fleet("devices: 20\nprefix: bus-\nrate: 2\nduration: 14s\nformat: json\nanomalies:\n  - { device: bus-0003, at: 3s, field: accel_x_ms2, ramp_to: 6, over: 1s, for: 5s }\n", ["--json"])
    await Promise.race([sseDone, Bun.sleep(40_000)])
    await reader.cancel()
    expect(sseText).toContain("event: transition")
    const raised = sseText.split("\n").filter((l) => l.startsWith("data:") && l.includes('"raised"')).map((l) => JSON.parse(l.slice(5)) as { device: string; rule: string })
    expect(raised.some((t) => t.device === "bus-0003")).toBe(true)
    expect(sseText).not.toContain('"device":"bus-0004"') // the filter holds

    expect(await fleet.exited).toBe(0)
    await Bun.sleep(1_500) // the last readings reach their actors
    // Live state: the API's answer equals `ops actor` once readings stopped.
    for (const id of ["bus-0003", "bus-0011"]) {
      const viaApi = await (await get(`${base(0)}/api/v1/devices/${id}`, tokens.viewer)).json()
      const viaOps = JSON.parse(await ops(["actor", `device/${id}`, "--json"]))
      expect(viaApi).toEqual(viaOps)
    }
    expect((await get(`${base(0)}/api/v1/devices/bus-9999`, tokens.viewer)).status).toBe(404)

    // Metrics: parse with a parser we did not write; counters moved with the traffic.
    const after = await metricsOf(base(0))
    const names = new Set(after.map((f) => f.name))
    for (const n of ["akis_gateway_readings_accepted_total", "akis_sink_rows_total", "akis_shard_readings_total", "akis_checkpoints_total", "akis_shards_held",
      "akis_shard_lag_batches", "akis_actors_active", "akis_device_ack_seconds", "akis_clickhouse_insert_seconds", "akis_reading_to_alert_seconds", "akis_http_requests_total"]) {
      expect(names.has(n)).toBe(true)
    }
    for (const n of ["akis_gateway_readings_accepted_total", "akis_shard_readings_total", "akis_sink_rows_total", "akis_gateway_acks_total"]) {
      expect(counter(after, n)).toBeGreaterThan(counter(before, n))
    }
    const counters = after.filter((f) => f.type === "COUNTER")
    expect(counters.length).toBeGreaterThan(20)
    expect(counters.filter((f) => !f.name.endsWith("_total")).map((f) => f.name)).toEqual([])
    for (const n of ["akis_device_ack_seconds", "akis_clickhouse_insert_seconds", "akis_reading_to_alert_seconds"]) {
      expect([n, Number(after.find((f) => f.name === n)!.metrics[0]!.buckets!["+Inf"])]).toEqual([n, expect.any(Number)])
      expect(Number(after.find((f) => f.name === n)!.metrics[0]!.buckets!["+Inf"])).toBeGreaterThan(0)
    }

    // History and the alert list see the anomaly.
    await waitFor("alert stored", async () => {
      const r = (await (await get(`${base(1)}/api/v1/alerts?device=bus-0003`, tokens.viewer)).json()) as { alerts: Array<{ rule: string }> }
      return r.alerts.length > 0
    }, { timeoutMs: 20_000 })
    const h = (await (await get(`${base(0)}/api/v1/devices/bus-0003/history?fields=accel_x_ms2&from=${Date.now() - 120_000}`, tokens.viewer)).json()) as { values: { accel_x_ms2: number[] } }
    expect(Math.max(...h.values.accel_x_ms2)).toBeGreaterThan(3)
  }, 90_000)

  test("every route × {no token, bad token, viewer, operator, admin} gives the expected status (curl for one of them)", async () => {
    const alerts = (await (await get(`${base(0)}/api/v1/alerts?device=bus-0003`, tokens.viewer)).json()) as { alerts: Array<{ alertId: string }> }
    const rules = readFileSync(join(root, "config/default.rules.yaml"), "utf8")
    const victims: string[] = []
    const samples = routeSamples("bus-0003", alerts.alerts[0]!.alertId, rules, () => victims.shift()!)
    expect(Object.keys(samples).sort()).toEqual(allRoutes.map((r) => `${r.method} ${r.path}`).sort())
    const failures: string[] = []
    for (const r of allRoutes) {
      for (const who of ["none", "bad", "viewer", "operator", "admin"] as Who[]) {
        if (r.method === "DELETE") victims.push((JSON.parse(await ops(["tokens", "create", "victim", "--json"])) as { id: string }).id)
        const s = samples[`${r.method} ${r.path}`]!()
        const token = who === "none" ? undefined : who === "bad" ? "akis_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" : tokens[who]
        const res = await get(`${base(apiPorts.length - 1)}${s.path}`, token, { method: r.method, body: s.body, headers: s.contentType ? { "content-type": s.contentType } : {} })
        if (r.produces === "text/event-stream") await res.body?.cancel()
        const want = expectedStatus(r, who)
        if (res.status !== want) failures.push(`${r.method} ${r.path} as ${who}: ${res.status} (want ${want}) ${r.produces === "text/event-stream" ? "" : (await res.text()).slice(0, 300)}`)
        else if (r.produces !== "text/event-stream") await res.arrayBuffer()
      }
    }
    expect(failures).toEqual([])
    // Audit records of what the matrix did (rule apply/rollback, ack, token changes), queryable through the API.
    const audit = (await (await get(`${base(0)}/api/v1/audit`, tokens.admin)).json()) as { records: Array<{ action: string; actor: string }> }
    expect(new Set(audit.records.map((r) => r.action))).toEqual(new Set(["rules.apply", "rules.rollback", "alert.ack", "alert.comment", "token.create", "token.revoke"]))
    // The same with curl: a bad parameter names itself.
    const curl = Bun.spawnSync(["curl", "-s", "-w", "\n%{http_code}", "-H", `Authorization: Bearer ${tokens.viewer}`, `${base(0)}/api/v1/devices/bus-0003/history?points=0`])
    const [body, code] = curl.stdout.toString().trim().split("\n")
    expect(code).toBe("400")
    expect(JSON.parse(body!)).toMatchObject({ error: "bad_parameter", parameter: "points" })
  }, 120_000)

  test("bad inputs give 400 naming the parameter; invalid rules give file:line:col issues", async () => {
    for (const [path, parameter] of [
      ["/api/v1/devices/bus-0003/history?from=tomorrow", "from"], ["/api/v1/devices/bus-0003/history?fields=nope", "fields"],
      ["/api/v1/devices/bus-0003/history?from=1000&to=10", "to"], ["/api/v1/fleet?field=coolant_temp_c&by=week", "by"], ["/api/v1/alerts?limit=-1", "limit"],
    ] as const) {
      const res = await get(`${base(0)}${path}`, tokens.viewer)
      const body = (await res.json()) as { parameter: string }
      expect([path, res.status, body.parameter]).toEqual([path, 400, parameter])
    }
    const res = await get(`${base(0)}/api/v1/rules?origin=bad.yaml`, tokens.admin, { method: "PUT", body: "rules:\n  - name: x\n    when: nonsense_field > 3\n", headers: { "content-type": "text/plain" } })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { issues: string[] }
    expect(body.issues[0]).toMatch(/^bad\.yaml:\d+:\d+: /)
  }, 30_000)

  test("a token revoked with `ops tokens revoke` is refused by every api node; `ops tokens list` shows it revoked, never a secret", async () => {
    const t = JSON.parse(await ops(["tokens", "create", "short-lived", "--role", "viewer", "--json"])) as { id: string; token: string }
    for (let i = 0; i < apiPorts.length; i++) await waitFor(`node ${i} knows the token`, async () => (await get(`${base(i)}/api/v1/rules`, t.token)).status === 200)
    await ops(["tokens", "revoke", t.id])
    for (let i = 0; i < apiPorts.length; i++) await waitFor(`node ${i} refuses it`, async () => (await get(`${base(i)}/api/v1/rules`, t.token)).status === 401, { timeoutMs: 5_000 })
    const list = JSON.parse(await ops(["tokens", "list", "--json"])) as Array<{ id: string; revokedAt: number | null; hash?: string }>
    expect(list.find((x) => x.id === t.id)!.revokedAt).toBeGreaterThan(0)
    expect(JSON.stringify(list)).not.toContain(t.token.slice(`akis_${t.id}_`.length)) // the secret may itself hold "_"
    expect(list.every((x) => x.hash === undefined)).toBe(true)
  }, 30_000)

  test("the same routes work through the real nginx (HTTPS, balanced, SSE unbuffered) and device TCP passes through", async () => {
    const certs = join(dir, "certs")
    const devicePort = freePort()
    nginx = await startNginx({
      dir: join(dir, "nginx"), apis: apiPorts.map((p) => `127.0.0.1:${p}`), gateways: cluster.gatewayPorts.map((p) => `127.0.0.1:${p}`),
      httpsPort: freePort(), devicePort, certFile: join(certs, "server.crt"), keyFile: join(certs, "server.key"),
    })
    const viaProxy = nginx.apiUrl
    for (const [path, who, want] of [["/api/v1/devices/bus-0003", "viewer", 200], ["/api/v1/devices/bus-0003", undefined, 401], ["/api/v1/cluster/shards", "viewer", 200], ["/readyz", undefined, 200], ["/api/v1/tokens", "operator", 403]] as const) {
      const res = await get(`${viaProxy}${path}`, who ? tokens[who] : undefined)
      expect([path, res.status]).toEqual([path, want])
      await res.arrayBuffer()
    }
    // Balanced: requests through nginx reach both nodes (/readyz names the node that answered).
    const answered = new Set<string>()
    for (let i = 0; i < 12; i++) answered.add(((await (await get(`${viaProxy}/readyz`)).json()) as { node: string }).node)
    expect([...answered].sort()).toEqual(["a1", "a2"])
    // curl through nginx, checking the certificate against the fleet CA.
    const curl = Bun.spawnSync(["curl", "-s", "--cacert", join(certs, "ca.crt"), "-H", `Authorization: Bearer ${tokens.viewer}`, `${viaProxy}/api/v1/devices/bus-0011`])
    expect((JSON.parse(curl.stdout.toString()) as { id: string }).id).toBe("bus-0011")
    // SSE through nginx: the first event arrives at once (not held in a buffer).
    const sse = await get(`${viaProxy}/api/v1/alerts/stream`, tokens.viewer)
    const r = sse.body!.getReader()
    const first = new TextDecoder().decode((await Promise.race([r.read(), Bun.sleep(5_000).then(() => ({ value: new Uint8Array() }))])).value)
    await r.cancel()
    expect(first).toContain("event: hello")
    // Device TCP through the stream block: the gateway's mTLS answers (its certificate, signed by the fleet CA).
    const s = Bun.spawnSync(["sh", "-c", `echo | openssl s_client -connect 127.0.0.1:${devicePort} -CAfile ${join(certs, "ca.crt")} -cert ${join(certs, "devices/bus-0001.crt")} -key ${join(certs, "devices/bus-0001.key")} 2>&1 | grep -E "Verify return code"`])
    expect(s.stdout.toString()).toContain("Verify return code: 0 (ok)")
  }, 60_000)
})

describe("api and wire data from other processes", () => {
  test("a malformed alert transition and a malformed token record are counted in /metrics, logged once, and the API goes on", async () => {
    const nc = await ns.connect()
    const bad = { id: "bus-0009:r:1:raised:warning", alertId: "bus-0009:r:1", device: "bus-0009", rule: "r", kind: "raised", severity: "warning", at: Date.now(), values: { x: "hot" } }
    for (let i = 0; i < 3; i++) nc.publish("akis.alerts.warning.bus-0009", JSON.stringify(bad))
    await (await new Kvm(nc).open("akis_tokens")).put("t.deadbeef", JSON.stringify({ id: "deadbeef", name: "x", role: "root", hash: "x", createdAt: 0, expiresAt: null, revokedAt: null, createdBy: "x" }))
    const malformed = async () => {
      const fam = (await metricsOf(base(0))).find((f) => f.name === "akis_wire_malformed_total")
      return Object.fromEntries((fam?.metrics ?? []).map((m) => [m.labels?.message, Number(m.value)]))
    }
    await waitFor("counted", async () => {
      const m = await malformed()
      return m["alert transition"] === 3 && m["akis_tokens token"] === 1
    }, { timeoutMs: 15_000 })
    const logged = events(cluster.nodes.get("a1")!).filter((e) => e.event === "wire.malformed")
    expect(new Set(logged.map((e) => `${e.message} | ${String(e.reason).match(/(values\.x|role): Expected/)?.[1]}`))).toEqual(new Set([
      "alert transition | values.x", "akis_tokens token | role",
    ]))
    expect(logged).toHaveLength(2)
    expect((await get(`${base(0)}/api/v1/cluster/shards`, tokens.viewer)).status).toBe(200)
  }, 30_000)
})

describe("api with its dependencies down", () => {
  test("ClickHouse down: history and alerts are 503 with Retry-After; NATS down: live state of other nodes' shards and rules are 503; no stack traces", async () => {
    await ch.stop(true) // down as after a crash (a clean shutdown of ClickHouse takes seconds)
    for (const path of ["/api/v1/devices/bus-0003/history", "/api/v1/alerts", "/api/v1/devices", "/api/v1/fleet?field=speed_kmh"]) {
      const res = await get(`${base(0)}${path}`, tokens.viewer)
      const text = await res.text()
      expect([path, res.status, Number(res.headers.get("retry-after")) > 0]).toEqual([path, 503, true])
      expect(text).not.toMatch(/\bat \S+:\d+/)
    }
    expect((await get(`${base(0)}/healthz`)).status).toBe(200) // the process is still up
    // Live state of a device whose shard a1 holds is answered in-process (no NATS in between, until
    // a1 fences itself); one held by a2 needs NATS.
    const map = (await (await get(`${base(0)}/api/v1/cluster/shards`, tokens.viewer)).json()) as { shards: Array<{ shard: number; owner: string | null }> }
    const ownerOf = (id: string) => map.shards[shardOf(id, 8)]!.owner
    const devices = Array.from({ length: 20 }, (_, i) => `bus-${String(i + 1).padStart(4, "0")}`)
    const local = devices.find((d) => ownerOf(d) === "a1")!
    const remote = devices.find((d) => ownerOf(d) === "a2")!
    await ns.stop()
    expect((await get(`${base(0)}/api/v1/devices/${local}`, tokens.viewer)).status).toBe(200)
    for (const path of [`/api/v1/devices/${remote}`, "/api/v1/rules", "/api/v1/cluster/shards"]) {
      const t0 = performance.now()
      const res = await get(`${base(0)}${path}`, tokens.viewer)
      const text = await res.text()
      // At once: the node knows it is not connected, it does not wait out a request timeout (3–5 s).
      const ms = performance.now() - t0
      expect([path, res.status, Number(res.headers.get("retry-after")) > 0, ms < 2_000]).toEqual([path, 503, true, true])
      expect(text).not.toMatch(/\bat \S+:\d+/)
    }
    expect((await get(`${base(0)}/readyz`)).status).toBe(503)
  }, 60_000)
})
