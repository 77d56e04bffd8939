import { allows, api, ApiError, type Role } from "./api.ts"
import type { AlertRow, AlertStore } from "./alert-store.ts"
import { clock, fmt, h, stamp } from "./dom.ts"

/**
 * The alerts page: the live feed (rows appear as the SSE stream delivers transitions, redrawn at
 * most every 500 ms), filters on state, severity, device and rule, and a click opens the detail.
 */
export const alertsPage = (root: HTMLElement, store: AlertStore, go: (hash: string) => void) => {
  let state = "open"
  let severity = ""
  let text = ""
  const sel = (id: string, opts: string[], value: string, set: (v: string) => void) =>
    h("select", { id, onchange: (e: Event) => (set((e.target as HTMLSelectElement).value), draw()) }, ...opts.map((o) => h("option", { value: o, ...(o === value ? { selected: true } : {}) }, o || "any")))
  const status = h("span", { class: "note", id: "feed-status" })
  const table = h("tbody", { id: "alert-feed" })
  root.append(
    h("section", {},
      h("div", { class: "toolbar" },
        sel("alert-state", ["open", "closed", ""], state, (v) => (state = v)),
        sel("alert-severity", ["", "critical", "warning", "info"], severity, (v) => (severity = v)),
        h("input", { type: "search", id: "alert-filter", placeholder: "device or rule", oninput: (e: Event) => ((text = (e.target as HTMLInputElement).value.trim()), draw()) }),
        status),
      h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, ...["last change", "device", "rule", "severity", "state", "message", "ack"].map((c) => h("th", {}, c)))),
        table)),
  )
  const draw = () => {
    const now = Date.now()
    const rows = [...store.byId.values()]
      .filter((a) => (!state || a.state === state) && (!severity || a.severity === severity) && (!text || a.device.includes(text) || a.rule.includes(text)))
      .sort((a, b) => b.lastAt - a.lastAt)
      .slice(0, 300)
    table.replaceChildren(...rows.map((a) => {
      a.shownAt ??= now
      return h("tr", { class: `sev-${a.severity} ${a.state}`, "data-alert": a.alertId, "data-device": a.device, "data-kind": a.lastKind, "data-at": a.lastAt, "data-raised-at": a.raisedAt ?? "", "data-shown-at": a.shownAt, onclick: () => go(`#/alerts/${encodeURIComponent(a.alertId)}`) },
        h("td", {}, stamp(a.lastAt)), h("td", {}, a.device), h("td", {}, a.rule), h("td", { class: "sev" }, a.severity), h("td", {}, `${a.state} (${a.lastKind})`),
        h("td", { class: "msg" }, a.message), h("td", {}, a.acknowledged ? "✓" : ""))
    }))
    status.textContent = `${rows.length} shown · ${store.byId.size} alerts in the last day · live ${store.connected ? "connected" : "reconnecting…"} · ${store.recent.length} transitions since the page opened`
  }
  draw()
  return store.listen(draw)
}

/** One alert: its transitions with the values that triggered them, notes, and acknowledge/comment for operators. */
export const alertDetailPage = async (root: HTMLElement, store: AlertStore, alertId: string, role: Role, go: (hash: string) => void) => {
  const box = h("section", { class: "detail" })
  root.append(box)
  type Detail = { alertId: string; transitions: Array<{ kind: string; severity: string; at: number; seq: number; message: string; values: Record<string, number>; ruleVersion: number }>; notes: Array<{ at: number; by: string; kind: string; text: string }>; acknowledged: boolean }
  let retry: ReturnType<typeof setTimeout> | undefined
  const load = async () => {
    let a: Detail
    let pending = false
    try {
      a = await api<Detail>(`/api/v1/alerts/${encodeURIComponent(alertId)}`)
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e
      // Seen on the live stream but not yet stored (the alert writer batches into ClickHouse): show what the stream brought, ask again.
      const seen = store.recent.filter((t) => t.alertId === alertId)
      if (seen.length === 0) throw e
      a = { alertId, transitions: seen.map((t) => ({ ...t, ruleVersion: 0 })), notes: [], acknowledged: false }
      pending = true
      retry = setTimeout(() => box.isConnected && void load().catch(console.warn), 1_000)
    }
    const device = alertId.split(":")[0]!
    const err = h("div", { class: "error", id: "alert-error" })
    const comment = h("textarea", { id: "alert-comment", rows: 2, placeholder: "comment (optional for acknowledge)" })
    const act = async (path: string, body: unknown) => {
      try {
        await api(path, { method: "POST", body })
        if (path.endsWith("/ack")) store.acked(alertId)
        await refresh()
      } catch (e) {
        err.textContent = e instanceof ApiError ? `${e.status}: ${e.message}` : String(e)
      }
    }
    box.replaceChildren(
      h("p", {}, h("a", { href: "#/alerts" }, "← alerts")),
      h("h2", {}, alertId),
      h("p", {}, "device ", h("a", { href: `#/device/${device}`, onclick: (e: Event) => (e.preventDefault(), go(`#/device/${device}`)) }, device), ` · ${a.acknowledged ? "acknowledged" : "not acknowledged"}`),
      h("h3", {}, "transitions", pending ? h("span", { class: "note" }, " (from the live stream; waiting for them to be stored)") : ""),
      h("table", { class: "grid", id: "alert-transitions" },
        h("thead", {}, h("tr", {}, ...["time", "kind", "severity", "seq", "message", "values that triggered it", "rules v"].map((c) => h("th", {}, c)))),
        h("tbody", {}, ...a.transitions.map((t) => h("tr", { class: `sev-${t.severity}` },
          h("td", {}, stamp(t.at)), h("td", {}, t.kind), h("td", { class: "sev" }, t.severity), h("td", {}, String(t.seq)), h("td", { class: "msg" }, t.message),
          h("td", { class: "values" }, Object.entries(t.values).map(([k, v]) => `${k} = ${fmt(v, 2)}`).join(", ")), h("td", {}, String(t.ruleVersion)))))),
      h("h3", {}, "acknowledgements and comments"),
      h("ul", { id: "alert-notes" }, ...(a.notes.length ? a.notes.map((n) => h("li", {}, `${clock(n.at)} ${n.by} ${n.kind === "ack" ? "acknowledged" : "commented"}${n.text ? `: ${n.text}` : ""}`)) : [h("li", { class: "note" }, "none")])),
      allows(role, "operator") && !pending
        ? h("div", { class: "actions" }, comment,
          h("button", { id: "alert-ack", disabled: a.acknowledged, onclick: () => act(`/api/v1/alerts/${encodeURIComponent(alertId)}/ack`, comment.value ? { comment: comment.value } : {}) }, "acknowledge"),
          h("button", { id: "alert-comment-send", onclick: () => comment.value.trim() && act(`/api/v1/alerts/${encodeURIComponent(alertId)}/comments`, { text: comment.value.trim() }) }, "comment"), err)
        : pending ? h("p", { class: "note" }, "acknowledge once stored …") : h("p", { class: "note", id: "alert-readonly" }, "viewer: read only"),
    )
  }
  const refresh = load
  await load()
  return () => clearTimeout(retry)
}
