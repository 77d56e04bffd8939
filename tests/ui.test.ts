/**
 * The dashboard in real headless Chromium (Debian's, driven by playwright-core) against a running
 * cluster: nats-server, ClickHouse, two nodes [worker, gateway, api], a simulated fleet of 20
 * buses with one injected anomaly, tokens made with `ops tokens create`, nginx in front (the alert
 * feed test signs in through it). Screenshots of every page
 * go to .akis/screenshots/ (ignored by git).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { mkdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { Page } from "playwright-core"
import { launchChromium, type Browser } from "../ops/lib/browser.ts"
import { startClickHouse, startNats, tempDir, type Child, type ClickHouseServer, type Nginx, type NatsServer } from "./harness/index.ts"
import { startApiCluster, type ApiCluster } from "../ops/lib/api-cluster.ts"

const root = join(import.meta.dir, "..")
/** The page's DOM inside page.evaluate / waitForFunction callbacks (the test program has no DOM lib). */
declare const document: any
const shots = join(root, ".akis", "screenshots")
let ns: NatsServer
let ch: ClickHouseServer
let dir: string
let browser: Browser
let fleet: Child
let nginx: Nginx
let cluster: ApiCluster
let tokens: Record<string, string> = {}
/** The anomaly: bus-0003 accelerates hard (harsh_acceleration) 15 s into the fleet's run, which the alert feed test starts once its page is open. */
const anomalyAtS = 15

const base = (i = 0) => cluster.base(i)
const apiGet = async <T>(path: string, role = "admin", init: RequestInit = {}) =>
  (await (await fetch(`${base(0)}${path}`, { ...init, headers: { authorization: `Bearer ${tokens[role]}`, ...(init.headers as Record<string, string> | undefined) } })).json()) as T

beforeAll(async () => {
  mkdirSync(shots, { recursive: true })
  ;[ns, ch, browser] = await Promise.all([startNats(), startClickHouse(), launchChromium()])
  browser.context.setDefaultTimeout(20_000) // a shared 2-core machine can be slow; waits still end
  dir = tempDir("akis-ui-")
  // nginx in front, as ops/up runs it: the alert feed test goes through it (HTTPS, SSE unbuffered).
  cluster = await startApiCluster({
    natsUrl: ns.url, clickhouseUrl: ch.url, dir, ids: ["u1", "u2"], devices: 20, partitions: 8, nginx: true,
    env: {
      AKIS_NODE__HEARTBEATMS: "500", AKIS_NODE__SUSPICIONMS: "2000", AKIS_NODE__CHECKPOINTMS: "1000", AKIS_SINK__FLUSHMS: "200",
      AKIS_API__RATELIMITPERSEC: "100000", AKIS_API__RATEBURST: "100000",
    },
    tokens: { "ui-viewer": "viewer", "ui-operator": "operator", "ui-admin": "admin" },
  })
  nginx = cluster.nginx!
  tokens = { viewer: cluster.tokens["ui-viewer"]!, operator: cluster.tokens["ui-operator"]!, admin: cluster.tokens["ui-admin"]! }
  // A stored rule set for the rules page to edit (the nodes start from the same default file).
  const put = await fetch(`${base(0)}/api/v1/rules?origin=default.rules.yaml`, { method: "PUT", body: readFileSync(join(root, "config/default.rules.yaml"), "utf8"), headers: { authorization: `Bearer ${tokens.admin}`, "content-type": "text/plain" } })
  expect(put.status).toBe(201)
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await cluster?.stop()
  await Promise.all([ns?.cleanup(), ch?.cleanup()])
})

/** Starts the simulated fleet (20 buses × 2 Hz) with bus-0003's anomaly `anomalyAtS` seconds in. */
const startFleet = () => {
  fleet = cluster.fleet(`devices: 20\nprefix: bus-\nrate: 2\nduration: 240s\nformat: json\nanomalies:\n  - { device: bus-0003, at: ${anomalyAtS}s, field: accel_x_ms2, ramp_to: 6, over: 1s, for: 5s }\n`, ["--json"])
}

/** A new tab signed in with `role`'s token (through the sign-in form, as a person would). */
const signedIn = async (role: string, hash = "#/fleet", node: number | "nginx" = 0): Promise<Page> => {
  const page = await browser.context.newPage()
  page.on("pageerror", (e) => console.error(`[browser ${role}] ${e.message}`))
  await page.goto(`${node === "nginx" ? nginx.apiUrl : base(node)}/dashboard/${hash}`)
  await page.fill("#token", tokens[role]!)
  await page.click("#signin button[type=submit]")
  await page.waitForSelector(`#whoami[data-role="${role}"], #signin-error:not(:empty)`, { timeout: 30_000 })
  // Signed in, the form (and its error line) is gone: look without waiting for it.
  const error = await page.$("#signin-error")
  expect(error ? await error.textContent() : "").toBeFalsy()
  return page
}
const shot = (page: Page, name: string) => page.screenshot({ path: join(shots, `${name}.png`) })

describe("dashboard in Chromium", () => {
  test("the injected anomaly appears in the alert feed within 5 s of being raised; an operator acknowledges it, a viewer is not offered to", async () => {
    const page = await signedIn("operator", "#/alerts", "nginx") // through nginx: page, API calls and the SSE stream
    await page.waitForSelector("#feed-status:has-text('connected')", { timeout: 30_000 })
    startFleet() // only now, so the feed is open before the anomaly is raised
    const row = await page.waitForSelector('#alert-feed tr[data-device="bus-0003"][data-kind="raised"]', { timeout: (anomalyAtS + 40) * 1000 })
    const raisedAt = Number(await row.getAttribute("data-raised-at"))
    const shownAt = Number(await row.getAttribute("data-shown-at"))
    const alertId = (await row.getAttribute("data-alert"))!
    console.log(`alert ${alertId}: raised at ${raisedAt} (reading time), shown ${shownAt - raisedAt} ms later`)
    expect(shownAt - raisedAt).toBeGreaterThanOrEqual(0)
    expect(shownAt - raisedAt).toBeLessThan(5_000)
    await shot(page, "alerts")

    // Detail: transitions with the values that triggered the alert; acknowledge with a comment.
    await row.click()
    await page.waitForSelector("#alert-transitions tbody tr", { timeout: 20_000 })
    expect(await page.textContent("#alert-transitions")).toContain("accel_x_ms2")
    await page.waitForSelector("#alert-ack", { timeout: 30_000 }) // offered once the alert is stored
    await page.fill("#alert-comment", "driver called")
    await page.click("#alert-ack")
    await page.waitForSelector("#alert-notes li:has-text('acknowledged: driver called')", { timeout: 20_000 })
    await shot(page, "alert-detail")
    const stored = await apiGet<{ acknowledged: boolean; notes: Array<{ by: string; kind: string }> }>(`/api/v1/alerts/${encodeURIComponent(alertId)}`)
    expect(stored.acknowledged).toBe(true)
    expect(stored.notes.map((n) => [n.by, n.kind])).toContainEqual(["ui-operator", "ack"])
    await page.close()

    const viewer = await signedIn("viewer", `#/alerts/${encodeURIComponent(alertId)}`)
    await viewer.waitForSelector("#alert-transitions tbody tr", { timeout: 20_000 })
    expect(await viewer.$("#alert-readonly")).not.toBeNull()
    expect(await viewer.$("#alert-ack")).toBeNull()
    expect(await viewer.$("#alert-comment")).toBeNull()
    // ... and the API refuses the viewer anyway.
    const refused = await fetch(`${base(0)}/api/v1/alerts/${encodeURIComponent(alertId)}/ack`, { method: "POST", body: "{}", headers: { authorization: `Bearer ${tokens.viewer}`, "content-type": "application/json" } })
    expect(refused.status).toBe(403)
    await viewer.close()
  }, 120_000)

  test("signs in with a token, refuses a bad one, and the fleet page shows every device live with positions", async () => {
    const bad = await browser.context.newPage()
    await bad.goto(`${base(1)}/dashboard/`)
    await bad.fill("#token", "akis_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    await bad.click("#signin button[type=submit]")
    await bad.waitForSelector("#signin-error:has-text('refused')", { timeout: 20_000 })
    await bad.close()

    const page = await signedIn("viewer")
    // Every device reports (ok or alerting; none silent) once the fleet runs.
    await page.waitForFunction(() => document.querySelectorAll("#fleet-table .vrow[data-status=ok], #fleet-table .vrow[data-status=alerting]").length === 20, undefined, { timeout: 30_000 })
    const counts = await page.textContent(".counts")
    expect(counts).toContain("20 devices")
    // Values change between two live updates (the page follows the fleet without reload).
    const speeds = () => page.$$eval("#fleet-table .vrow .c-age", (els) => els.map((e) => e.textContent).join("|"))
    const a = await speeds()
    await page.waitForFunction((before) => [...document.querySelectorAll("#fleet-table .vrow .c-age")].map((e) => e.textContent).join("|") !== before, a, { timeout: 20_000 })
    expect(await page.textContent(".fleet-right .note")).toMatch(/^20 positions/)
    // Sort and filter.
    await page.fill("#fleet-filter", "bus-001")
    await page.waitForFunction(() => document.querySelectorAll("#fleet-table .vrow[data-id]:not([style*='display: none'])").length === 10)
    await page.fill("#fleet-filter", "")
    await page.click(".vhead [data-key=id]")
    await page.click(".vhead [data-key=id]")
    await page.waitForFunction(() => document.querySelector("#fleet-table .vrow[data-id]")?.getAttribute("data-id") === "bus-0020")
    await shot(page, "fleet")
    await page.close()
  }, 120_000)

  test("a device page shows history charts with the alert marked and live values that move", async () => {
    const page = await signedIn("viewer", "#/device/bus-0003")
    await page.waitForSelector("#device-charts .uplot", { timeout: 30_000 })
    expect(await page.$$("#device-charts .uplot")).toHaveLength(3)
    expect(Number(await page.getAttribute("#device-charts", "data-points"))).toBeGreaterThan(3)
    // Add the anomaly's field: its chart and the alert marker on the time axis.
    await page.click("details summary")
    await page.check('.picker input[value="accel_x_ms2"]')
    await page.waitForFunction(() => document.querySelectorAll("#device-charts .uplot").length === 4 && Number(document.querySelector("#device-charts").dataset.marks) > 0, undefined, { timeout: 30_000 })
    const first = await page.getAttribute("#device-live-at", "data-ts")
    await page.waitForFunction((before) => document.querySelector("#device-live-at").dataset.ts !== before, first, { timeout: 10_000 })
    expect(await page.textContent('#device-live td[data-field="speed_kmh"]')).toMatch(/^\d/)
    await shot(page, "device")
    await page.close()
  }, 120_000)

  test("a rule change made in the UI is applied; an invalid one is refused with its line marked", async () => {
    const before = await apiGet<{ version: number; source: string }>("/api/v1/rules")
    const page = await signedIn("admin", "#/rules")
    await page.waitForFunction(() => (document.querySelector("#rules-editor")?.value ?? "").includes("harsh_accel_ms2"))
    const source = await page.inputValue("#rules-editor")
    expect(source).toBe(before.source)

    // Invalid: an unknown field on line 29 (the overheating rule's `when`).
    const lines = source.split("\n")
    expect(lines[28]).toContain("when: avg(coolant_temp_c, 10s)")
    lines[28] = lines[28]!.replace("coolant_temp_c", "coolant_temp_x")
    await page.fill("#rules-editor", lines.join("\n"))
    await page.click("#rules-apply")
    await page.waitForSelector('#rules-result .issue[data-line="29"]', { timeout: 20_000 })
    expect(await page.getAttribute("#rules-gutter div:nth-child(29)", "class")).toBe("bad")
    await shot(page, "rules-invalid")
    expect((await apiGet<{ version: number }>("/api/v1/rules")).version).toBe(before.version)

    // Valid: a changed parameter is applied as the next version.
    await page.fill("#rules-editor", source.replace("harsh_accel_ms2: 3", "harsh_accel_ms2: 3.5"))
    await page.click("#rules-validate")
    await page.waitForSelector("#rules-result.ok:has-text('valid')")
    await page.click("#rules-apply")
    await page.waitForSelector(`#rules-result:has-text('applied as version ${before.version + 1}')`, { timeout: 20_000 })
    const after = await apiGet<{ version: number; source: string; origin: string }>("/api/v1/rules")
    expect(after.version).toBe(before.version + 1)
    expect(after.source).toContain("harsh_accel_ms2: 3.5")
    await page.waitForSelector(`#rules-history button[data-rollback="${before.version}"]`)
    await shot(page, "rules")
    await page.close()

    // A viewer sees the rules read-only, without apply or roll back.
    const viewer = await signedIn("viewer", "#/rules")
    await viewer.waitForSelector("#rules-history tr")
    expect(await viewer.$("#rules-apply")).toBeNull()
    expect(await viewer.$("[data-rollback]")).toBeNull()
    await viewer.close()
  }, 120_000)

  test("the cluster page shows both nodes, their shards and readings/s", async () => {
    const page = await signedIn("viewer", "#/cluster")
    await page.waitForSelector("#rate-in", { timeout: 20_000 })
    expect(await page.$$eval("#cluster-members tr", (rs) => rs.map((r) => r.firstElementChild!.textContent))).toEqual(["u1", "u2"])
    expect(await page.$$("#cluster-shards .cell")).toHaveLength(8)
    await page.waitForFunction(() => Number(document.querySelector("#rate-in")!.textContent) > 0, undefined, { timeout: 20_000 })
    await shot(page, "cluster")
    await page.close()
  }, 60_000)
})
