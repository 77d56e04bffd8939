import { describe, expect, test } from "bun:test"
import { TestClock } from "../../runtime/clock.ts"
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from "jose"
import { makeJwtVerifier } from "./jwt.ts"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { ActorNotFound, ActorUnavailable } from "../../runtime/index.ts"
import { StoreUnavailable } from "../../actors/sink/index.ts"
import type { AlertTransition } from "../../runtime/alert.ts"
import { makeApp } from "./app.ts"
import { LiveFleet } from "./live-fleet.ts"
import { newToken, type Role } from "./auth.ts"
import type { ApiDeps } from "./deps.ts"
import { allRoutes } from "./routes/index.ts"
import { memoryAuditLog, memoryTokenStore } from "./store.ts"
import { expectedStatus, routeSamples, type Who } from "./testing.ts"

const schema = loadDeviceSchema()
const rulesSource = "rules: []\n"

/** In-memory deps; `down` makes the stores fail like an unreachable ClickHouse. */
const fakeDeps = (o: { down?: boolean; perSec?: number } = {}) => {
  const clock = new TestClock(1_700_000_000_000)
  const now = clock.now()
  const tokens = memoryTokenStore()
  const audit = memoryAuditLog()
  const subs = new Set<(t: AlertTransition) => void>()
  const storeDown = () => Promise.reject(new StoreUnavailable({ op: "query", message: "connection refused" }))
  const live = new LiveFleet(schema.fields.length)
  const versions = [{ version: 1, source: rulesSource, checksum: "abc", appliedAt: now, origin: "x" }]
  const deps: ApiDeps = {
    clock, schema, rateLimit: { perSec: o.perSec ?? 1000, burst: o.perSec ?? 1000 }, tokens, audit,
    liveState: async (id) => {
      if (id === "bus-0404") throw new ActorNotFound({ address: `device/${id}` })
      if (id === "bus-0503") throw new ActorUnavailable({ address: `device/${id}`, shard: 1, waitedMs: 10, cause: undefined })
      return { id, latest: { coolant_temp_c: 90 } }
    },
    devices: async () => (o.down ? storeDown() : [{ id: "bus-0001", groups: [], shard: 1, owner: "n1", lastSeen: clock.now(), openAlerts: 0 }]),
    readings: async (q) => (o.down ? storeDown() : { device: q.device, fields: q.fields ?? [], t: [], n: [], values: {}, bucketMs: 0 }),
    fleet: async () => (o.down ? storeDown() : []),
    alerts: async () => (o.down ? storeDown() : []),
    alertTransitions: async () => [],
    rulesCurrent: async () => versions.at(-1),
    rulesHistory: async () => versions,
    rulesValidate: () => ({ ok: true, rules: 0, windows: 0, checksum: "abc" }),
    rulesApply: async (source, origin) => {
      const v = { version: versions.length + 1, source, checksum: "def", appliedAt: clock.now(), origin }
      versions.push(v)
      return v
    },
    rulesRollback: async (version) => deps.rulesApply(versions.find((v) => v.version === version)!.source, `rollback of v${version}`),
    clusterView: async () => ({ partitions: 1, members: [], shards: [], unowned: [] }),
    streams: async () => [],
    storedRows: async () => (o.down ? storeDown() : 42),
    fleetLive: async (fields) => ({ since: clock.now(), ...live.snapshot(fields) }),
    subscribeAlerts: (fn) => (subs.add(fn), () => subs.delete(fn)),
    ready: async () => ({ ready: true, reasons: [] }),
    metrics: async () => ({ contentType: "text/plain; version=0.0.4", body: "akis_up 1\n" }),
  }
  const tokenOf: Record<string, string> = {}
  for (const role of ["viewer", "operator", "admin"] as Role[]) {
    const t = newToken(role, role, clock.now(), null, "test")
    tokens.put(t.record)
    tokenOf[role] = t.token
  }
  return { deps, tokens, audit, tokenOf, subs, live, advance: (ms: number) => clock.advance(ms), clock }
}

const call = async (app: ReturnType<typeof makeApp>, method: string, path: string, token?: string, body?: string, contentType?: string) =>
  app.request(path, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(contentType ? { "content-type": contentType } : {}) }, body })

describe("api app", () => {
  test("every route × {no token, bad token, viewer, operator, admin} answers the expected status", async () => {
    const f = fakeDeps()
    const app = makeApp(f.deps)
    const revocable: string[] = []
    const samples = routeSamples("bus-0001", "bus-0001:overheat:1", rulesSource, () => {
      const t = newToken("victim", "viewer", 0, null, "test")
      f.tokens.put(t.record)
      revocable.push(t.record.id)
      return t.record.id
    })
    expect(Object.keys(samples).sort()).toEqual(allRoutes.map((r) => `${r.method} ${r.path}`).sort())
    f.audit.addNote({ alertId: "bus-0001:overheat:1", at: 1, by: "x", kind: "comment", text: "exists" })
    const failures: string[] = []
    for (const r of allRoutes) {
      for (const who of ["none", "bad", "viewer", "operator", "admin"] as Who[]) {
        const s = samples[`${r.method} ${r.path}`]!()
        const token = who === "none" ? undefined : who === "bad" ? "akis_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" : f.tokenOf[who]
        const res = await call(app, r.method, s.path, token, s.body, s.contentType)
        if (r.produces === "text/event-stream") await res.body?.cancel()
        const want = s.ok !== undefined && expectedStatus(r, who) < 300 ? s.ok : expectedStatus(r, who)
        if (res.status !== want) failures.push(`${r.method} ${r.path} as ${who}: ${res.status} (want ${want}) ${r.produces === "text/event-stream" ? "" : await res.text()}`)
      }
    }
    expect(failures).toEqual([])
  })

  test.each([
    ["/api/v1/devices/bus%20x", "id"],
    ["/api/v1/devices/bus-0001/history?points=0", "points"],
    ["/api/v1/devices/bus-0001/history?from=yesterday", "from"],
    ["/api/v1/devices/bus-0001/history?fields=Coolant-Temp", "fields"],
    ["/api/v1/devices/bus-0001/history?sourc=raw", "sourc"],
    ["/api/v1/fleet?by=total", "field"],
    ["/api/v1/alerts?severity=urgent", "severity"],
    ["/api/v1/alerts?state=maybe", "state"],
  ])("GET %s is 400 naming parameter %s", async (path, parameter) => {
    const f = fakeDeps()
    const res = await call(makeApp(f.deps), "GET", path, f.tokenOf.viewer)
    expect(res.status).toBe(400)
    const body = (await res.json()) as { parameter: string; expected: string }
    expect(body.parameter).toBe(parameter)
    expect(body.expected.length).toBeGreaterThan(3)
  })

  test("bad JSON bodies are 400 naming the body", async () => {
    const f = fakeDeps()
    const app = makeApp(f.deps)
    for (const body of ["{", '{"role":"root","name":"x"}', "[]"]) {
      const res = await call(app, "POST", "/api/v1/tokens", f.tokenOf.admin, body, "application/json")
      expect(res.status).toBe(400)
      expect(((await res.json()) as { parameter: string }).parameter).toBe("body")
    }
  })

  test("unknown device is 404; an unreachable owner or ClickHouse is 503 with Retry-After and no stack", async () => {
    const f = fakeDeps({ down: true })
    const app = makeApp(f.deps)
    expect((await call(app, "GET", "/api/v1/devices/bus-0404", f.tokenOf.viewer)).status).toBe(404)
    for (const path of ["/api/v1/devices/bus-0503", "/api/v1/devices/bus-0001/history", "/api/v1/alerts", "/api/v1/devices"]) {
      const res = await call(app, "GET", path, f.tokenOf.viewer)
      expect(res.status).toBe(503)
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0)
      expect(await res.text()).not.toContain("at ")
    }
  })

  test("an unexpected error is a 500 without details, reported to the node's log", async () => {
    const f = fakeDeps()
    const seen: unknown[] = []
    const app = makeApp({ ...f.deps, streams: () => Promise.reject(new TypeError("secret internals at foo.ts:1")) }, { onInternalError: (e) => seen.push(e) })
    const res = await call(app, "GET", "/api/v1/cluster/streams", f.tokenOf.viewer)
    expect(res.status).toBe(500)
    expect(await res.text()).not.toContain("secret")
    expect(seen).toHaveLength(1)
  })

  test("revoked and expired tokens are 401", async () => {
    const f = fakeDeps()
    const app = makeApp(f.deps)
    const expiring = newToken("short", "viewer", f.deps.clock.now(), f.deps.clock.now() + 60_000, "test")
    await f.tokens.put(expiring.record)
    expect((await call(app, "GET", "/api/v1/rules", expiring.token)).status).toBe(200)
    await f.advance(60_000)
    expect((await call(app, "GET", "/api/v1/rules", expiring.token)).status).toBe(401)
    const res = await call(app, "DELETE", `/api/v1/tokens/${f.tokens.get(Object.values(f.tokens.list()).find((t) => t.role === "viewer")!.id)!.id}`, f.tokenOf.admin)
    expect(res.status).toBe(200)
    expect((await call(app, "GET", "/api/v1/rules", f.tokenOf.viewer)).status).toBe(401)
  })

  test("a token over its rate is 429 with Retry-After; others are not affected", async () => {
    const f = fakeDeps({ perSec: 5 })
    const app = makeApp(f.deps)
    const codes: number[] = []
    for (let i = 0; i < 8; i++) codes.push((await call(app, "GET", "/api/v1/rules", f.tokenOf.viewer)).status)
    expect(codes.filter((c) => c === 200)).toHaveLength(5)
    const limited = await call(app, "GET", "/api/v1/rules", f.tokenOf.viewer)
    expect(limited.status).toBe(429)
    expect(limited.headers.get("retry-after")).toBe("1")
    expect((await call(app, "GET", "/api/v1/rules", f.tokenOf.operator)).status).toBe(200)
    await f.advance(1_000) // a second refills the bucket
    expect((await call(app, "GET", "/api/v1/rules", f.tokenOf.viewer)).status).toBe(200)
  })

  test("rule changes, rollbacks, acknowledgements and token changes leave audit records readable through the API", async () => {
    const f = fakeDeps()
    const app = makeApp(f.deps)
    await call(app, "PUT", "/api/v1/rules", f.tokenOf.admin, rulesSource, "text/plain")
    await call(app, "POST", "/api/v1/rules/rollback", f.tokenOf.admin, JSON.stringify({ version: 1 }), "application/json")
    await call(app, "POST", "/api/v1/alerts/bus-1:r:1/ack", f.tokenOf.operator, "{}", "application/json")
    const created = (await (await call(app, "POST", "/api/v1/tokens", f.tokenOf.admin, JSON.stringify({ name: "ci", role: "viewer" }), "application/json")).json()) as { id: string; token: string; hash?: string }
    expect(created.token).toMatch(/^akis_[0-9a-f]{8}_/)
    expect(created.hash).toBeUndefined()
    await call(app, "DELETE", `/api/v1/tokens/${created.id}`, f.tokenOf.admin)
    const res = (await (await call(app, "GET", "/api/v1/audit", f.tokenOf.admin)).json()) as { records: Array<{ action: string; actor: string }> }
    expect(new Set(res.records.map((r) => r.action))).toEqual(new Set(["rules.apply", "rules.rollback", "alert.ack", "token.create", "token.revoke"]))
    expect(res.records.find((r) => r.action === "alert.ack")!.actor).toBe("operator")
    expect(f.tokens.get(created.id)!.hash).not.toContain(created.token.slice(`akis_${created.id}_`.length))
  })

  test("the SSE stream sends published transitions", async () => {
    const f = fakeDeps()
    const res = await call(makeApp(f.deps), "GET", "/api/v1/alerts/stream?severity=critical", f.tokenOf.viewer)
    expect(res.headers.get("content-type")).toContain("text/event-stream")
    const reader = res.body!.getReader()
    const dec = new TextDecoder()
    let text = dec.decode((await reader.read()).value)
    const t = (sev: string, id: string) => ({ id, alertId: "a", device: "bus-0001", rule: "r", kind: "raised", severity: sev, at: 1, seq: 1, message: "", values: {}, channels: [], ruleVersion: 1, recvAt: 1 }) as AlertTransition
    for (const fn of f.subs) { fn(t("warning", "skip-me")); fn(t("critical", "want-me")) }
    while (!text.includes("want-me")) text += dec.decode((await reader.read()).value)
    // Quiet for 15 s on the clock: a keep-alive comment, and none before.
    expect(text).not.toContain(": keep-alive")
    await f.advance(14_999)
    await f.advance(1)
    const pending = reader.read()
    text += dec.decode((await pending).value)
    await reader.cancel()
    expect(text).toContain("event: transition")
    expect(text).toContain(": keep-alive")
    expect(text).not.toContain("skip-me")
    for (let i = 0; i < 100 && f.subs.size > 0; i++) await Bun.sleep(10) // the route unsubscribes once the client is gone
    expect(f.subs.size).toBe(0)
  })

  test("the OpenAPI document lists every route with its parameters", async () => {
    const f = fakeDeps()
    const doc = (await (await call(makeApp(f.deps), "GET", "/openapi.json")).json()) as { paths: Record<string, Record<string, { parameters: Array<{ name: string }> }>> }
    for (const r of allRoutes) expect(doc.paths[r.path]?.[r.method.toLowerCase()]).toBeDefined()
    expect(doc.paths["/api/v1/devices/{id}/history"]!.get!.parameters.map((p) => p.name)).toEqual(["id", "from", "to", "fields", "points", "limit", "source"])
  })

  test("JWTs from a configured identity provider: role from the claim, expiry and issuer checked", async () => {
    const f = fakeDeps()
    const { publicKey, privateKey } = await generateKeyPair("ES256")
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" }
    const verifyJwt = makeJwtVerifier({ keys: createLocalJWKSet({ keys: [jwk] }), issuer: "https://idp.example", audience: "akis" })
    const app = makeApp({ ...f.deps, verifyJwt })
    const jwt = (claims: Record<string, unknown>, o: { iss?: string; exp?: string } = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "k1" }).setSubject("alice").setIssuer(o.iss ?? "https://idp.example")
        .setAudience("akis").setIssuedAt().setExpirationTime(o.exp ?? "5m").sign(privateKey)
    expect((await call(app, "GET", "/api/v1/rules", await jwt({ akis_role: "viewer" }))).status).toBe(200)
    expect((await call(app, "GET", "/api/v1/tokens", await jwt({ akis_role: "viewer" }))).status).toBe(403)
    expect((await call(app, "GET", "/api/v1/tokens", await jwt({ akis_role: "admin" }))).status).toBe(200)
    expect((await call(app, "GET", "/api/v1/rules", await jwt({ akis_role: "root" }))).status).toBe(401)
    expect((await call(app, "GET", "/api/v1/rules", await jwt({ akis_role: "admin" }, { iss: "https://evil.example" }))).status).toBe(401)
    expect((await call(app, "GET", "/api/v1/rules", await jwt({ akis_role: "admin" }, { exp: "-1m" }))).status).toBe(401)
    const other = await generateKeyPair("ES256")
    const forged = await new SignJWT({ akis_role: "admin" }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer("https://idp.example").setAudience("akis").setExpirationTime("5m").sign(other.privateKey)
    expect((await call(app, "GET", "/api/v1/rules", forged)).status).toBe(401)
    // Without a configured provider a JWT is just a malformed token.
    expect((await call(makeApp(f.deps), "GET", "/api/v1/rules", await jwt({ akis_role: "admin" }))).status).toBe(401)
  })

  test("GET /api/v1/me names the caller's role; the live fleet answers the chosen fields and refuses unknown ones", async () => {
    const f = fakeDeps()
    const app = makeApp(f.deps)
    for (const role of ["viewer", "operator", "admin"]) {
      expect(((await (await call(app, "GET", "/api/v1/me", f.tokenOf[role])).json()) as { role: string }).role).toBe(role)
    }
    const w = schema.fields.length
    const values = new Float64Array(2 * w).fill(Number.NaN)
    values[schema.byName.get("speed_kmh")!.index] = 50
    values[w + schema.byName.get("speed_kmh")!.index] = 60
    f.live.add({ ids: ["bus-0002", "bus-0001"], seqs: new Float64Array([1, 1]), ts: new Float64Array([10, 20]), width: w, values, schema: 1, recvAt: 0 })
    const res = (await (await call(app, "GET", "/api/v1/fleet/live?fields=speed_kmh,gps_lat", f.tokenOf.viewer)).json()) as { ids: string[]; lastAt: number[]; values: Record<string, unknown[]> }
    expect(res).toMatchObject({ ids: ["bus-0001", "bus-0002"], lastAt: [20, 10], values: { speed_kmh: [60, 50], gps_lat: [null, null] } })
    const bad = await call(app, "GET", "/api/v1/fleet/live?fields=speed_kmh,warp_factor", f.tokenOf.viewer)
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { parameter: string; expected: string })).toMatchObject({ parameter: "fields", expected: expect.stringContaining("warp_factor") })
  })
})
