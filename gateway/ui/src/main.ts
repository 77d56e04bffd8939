import "uplot/dist/uPlot.min.css"
import "./style.css"
import { api, ApiError, token, whenUnauthorized, type Role } from "./api.ts"
import { AlertStore } from "./alert-store.ts"
import { alertDetailPage, alertsPage } from "./alerts.ts"
import { clusterPage } from "./cluster.ts"
import { devicePage } from "./device.ts"
import { h } from "./dom.ts"
import { fleetPage } from "./fleet.ts"
import { rulesPage } from "./rules.ts"

/**
 * The dashboard's shell: sign-in with an API token (sessionStorage), a hash router over the
 * pages, and one alert store (list + SSE) shared by all of them. What is offered follows the
 * role `/api/v1/me` reports; the API checks every call again.
 */
const app = document.getElementById("app")!
const nav = document.getElementById("nav")!
const who = document.getElementById("who")!
let me: { name: string; role: Role } | undefined
let store: AlertStore | undefined
let leave: (() => void) | undefined

const go = (hash: string) => {
  if (location.hash === hash) void route()
  else location.hash = hash
}

const signIn = (message = "") => {
  leave?.()
  leave = undefined
  store?.stop()
  store = undefined
  me = undefined
  nav.replaceChildren()
  who.replaceChildren()
  const input = h("input", { id: "token", type: "password", placeholder: "akis_…", autocomplete: "off", size: 60 })
  const err = h("div", { class: "error", id: "signin-error" }, message)
  const submit = async (e: Event) => {
    e.preventDefault()
    token.set(input.value.trim())
    try {
      await start()
    } catch (x) {
      token.clear()
      err.textContent = x instanceof ApiError ? `refused: ${x.message}` : String(x)
    }
  }
  app.replaceChildren(h("form", { class: "signin", id: "signin", onsubmit: submit },
    h("h2", {}, "Sign in"),
    h("p", { class: "note" }, "Paste an API token (", h("code", {}, "bun run ops tokens create <name> --role viewer|operator|admin"), "). It stays in this tab only."),
    input, h("button", { type: "submit", class: "primary" }, "sign in"), err))
  input.focus()
}

const pages: Array<[string, string, Role]> = [["#/fleet", "fleet", "viewer"], ["#/alerts", "alerts", "viewer"], ["#/cluster", "cluster", "viewer"], ["#/rules", "rules", "viewer"]]

const start = async () => {
  me = await api<{ name: string; role: Role }>("/api/v1/me")
  store = new AlertStore()
  await store.start()
  who.replaceChildren(h("span", { id: "whoami", "data-role": me.role }, `${me.name} (${me.role})`), " ", h("button", { class: "small", id: "signout", onclick: () => (token.clear(), signIn()) }, "sign out"))
  nav.replaceChildren(...pages.map(([hash, label]) => h("a", { href: hash, "data-page": label }, label)))
  if (!location.hash || location.hash === "#/") location.hash = "#/fleet"
  else await route()
}

const route = async () => {
  if (!me || !store) return
  leave?.()
  leave = undefined
  app.replaceChildren()
  const [, page = "fleet", ...rest] = location.hash.slice(1).split("/")
  const arg = decodeURIComponent(rest.join("/"))
  for (const a of nav.children) (a as HTMLElement).classList.toggle("on", (a as HTMLElement).dataset.page === (page === "device" ? "fleet" : page))
  app.dataset.page = page
  try {
    if (page === "fleet") leave = fleetPage(app, store, go)
    else if (page === "alerts" && arg) leave = await alertDetailPage(app, store, arg, me.role, go)
    else if (page === "alerts") leave = alertsPage(app, store, go)
    else if (page === "device" && arg) leave = await devicePage(app, arg)
    else if (page === "cluster") leave = clusterPage(app)
    else if (page === "rules") await rulesPage(app, me.role)
    else app.append(h("p", {}, `no page ${location.hash}`))
  } catch (e) {
    app.append(h("div", { class: "error" }, e instanceof ApiError ? `${e.status}: ${e.message}` : String(e)))
  }
  app.dataset.ready = "1"
}

whenUnauthorized(() => signIn("the token was refused (revoked or expired?); sign in again"))
window.addEventListener("hashchange", () => void route())
if (token.get()) start().catch(() => signIn())
else signIn()
