import type { Hono } from "hono"
import { join } from "node:path"

/**
 * The dashboard (gateway/ui/src, plain TypeScript + DOM and uPlot) bundled with Bun.build when an
 * api node starts, kept in memory and served at `/dashboard/` (docs/decisions.md: built at start,
 * so there is no build step to forget and nothing generated is committed).
 */
export interface DashboardBundle {
  /** File name → body and content type (index.html, app.js, app.css). */
  readonly files: ReadonlyMap<string, { readonly body: Uint8Array; readonly type: string }>
  readonly buildMs: number
}

const src = join(import.meta.dir, "src")

/** Bundles the dashboard: one minified script with its CSS (uPlot's included), and index.html. */
export const buildDashboard = async (): Promise<DashboardBundle> => {
  const started = performance.now()
  const out = await Bun.build({ entrypoints: [join(src, "main.ts")], minify: true, target: "browser", naming: "[name].[ext]", sourcemap: "none" })
  if (!out.success) throw new AggregateError(out.logs, `dashboard bundle failed: ${out.logs.map(String).join("\n")}`)
  const files = new Map<string, { body: Uint8Array; type: string }>()
  for (const o of out.outputs) {
    const name = o.path.split("/").pop()!.replace(/^main\./, "app.")
    files.set(name, { body: new Uint8Array(await o.arrayBuffer()), type: name.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8" })
  }
  files.set("index.html", { body: new Uint8Array(await Bun.file(join(src, "index.html")).arrayBuffer()), type: "text/html; charset=utf-8" })
  return { files, buildMs: performance.now() - started }
}

let cached: Promise<DashboardBundle> | undefined

/**
 * Adds `GET /dashboard/*` (and `/` → `/dashboard/`) to the API app. The bundle is built once per
 * process; the pages need no token (they hold no data), every API call they make does.
 */
export const serveDashboard = async (app: Hono, log: (event: string, fields?: Record<string, unknown>) => void): Promise<void> => {
  cached ??= buildDashboard()
  let bundle: DashboardBundle
  try {
    bundle = await cached
  } catch (e) {
    log("dashboard.build_failed", { error: String(e) })
    return
  }
  log("dashboard.built", { ms: Math.round(bundle.buildMs), files: [...bundle.files.keys()] })
  const send = (name: string) => {
    const f = bundle.files.get(name)
    if (!f) return new Response(JSON.stringify({ error: "no_route", message: `no dashboard file ${name}` }), { status: 404, headers: { "content-type": "application/json" } })
    return new Response(f.body, { headers: { "content-type": f.type, "cache-control": name === "index.html" ? "no-cache" : "max-age=300" } })
  }
  app.get("/", (c) => c.redirect("/dashboard/"))
  app.get("/dashboard", (c) => c.redirect("/dashboard/"))
  app.get("/dashboard/", () => send("index.html"))
  app.get("/dashboard/:file", (c) => send(c.req.param("file")))
}
