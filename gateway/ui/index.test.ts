import { describe, expect, test } from "bun:test"
import { Hono } from "hono"
import { serveDashboard } from "./index.ts"

describe("dashboard bundle", () => {
  test("is built from source and served at /dashboard/ with its script and styles; / redirects there", async () => {
    const app = new Hono()
    const logged: string[] = []
    await serveDashboard(app, (e) => logged.push(e))
    expect(logged).toEqual(["dashboard.built"])
    const html = await (await app.request("/dashboard/")).text()
    expect(html).toContain('src="app.js"')
    const js = await app.request("/dashboard/app.js")
    expect(js.headers.get("content-type")).toContain("javascript")
    const code = await js.text()
    expect(code).toContain("/api/v1/fleet/live") // our pages
    expect(code).toContain("uplot") // the chart library is bundled, not fetched from a CDN
    expect(code).not.toMatch(/https?:\/\/(cdn|unpkg|jsdelivr)/)
    expect((await app.request("/dashboard/app.css")).headers.get("content-type")).toContain("text/css")
    expect((await app.request("/dashboard/nope.js")).status).toBe(404)
    const root = await app.request("/")
    expect([root.status, root.headers.get("location")]).toEqual([302, "/dashboard/"])
  })
})
