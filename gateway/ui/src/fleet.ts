import { api } from "./api.ts"
import type { AlertStore } from "./alert-store.ts"
import { every, fmt, h } from "./dom.ts"
import { perf, timed } from "./perf.ts"

/** Seconds without a reading after which a device counts as silent. */
const silentMs = 10_000
const liveFields = ["gps_lat", "gps_lon", "speed_kmh", "coolant_temp_c", "engine_rpm", "fuel_level_pct"] as const
type Status = "ok" | "alerting" | "silent"

interface Row {
  id: string
  status: Status
  open: number
  lastAt: number | null
  v: Record<string, number | null>
  /** Sort key of the current update. */
  k?: string | number
}

interface Column {
  key: string
  label: string
  get: (r: Row, now: number) => string | number
  text: (r: Row, now: number) => string
}

const columns: Column[] = [
  { key: "id", label: "device", get: (r) => r.id, text: (r) => r.id },
  { key: "status", label: "status", get: (r) => ({ alerting: 0, silent: 1, ok: 2 })[r.status], text: (r) => r.status },
  { key: "open", label: "open alerts", get: (r) => -r.open, text: (r) => (r.open ? String(r.open) : "") },
  { key: "age", label: "last reading", get: (r, now) => (r.lastAt === null ? 1e15 : now - r.lastAt), text: (r, now) => (r.lastAt === null ? "–" : `${Math.max(0, (now - r.lastAt) / 1000).toFixed(1)} s ago`) },
  { key: "speed_kmh", label: "speed km/h", get: (r) => -(r.v.speed_kmh ?? -1e9), text: (r) => fmt(r.v.speed_kmh) },
  { key: "coolant_temp_c", label: "coolant °C", get: (r) => -(r.v.coolant_temp_c ?? -1e9), text: (r) => fmt(r.v.coolant_temp_c) },
  { key: "engine_rpm", label: "rpm", get: (r) => -(r.v.engine_rpm ?? -1e9), text: (r) => fmt(r.v.engine_rpm, 0) },
  { key: "fuel_level_pct", label: "fuel %", get: (r) => -(r.v.fuel_level_pct ?? -1e9), text: (r) => fmt(r.v.fuel_level_pct) },
]
const rowH = 24

/**
 * The fleet page: every device with status, open alerts and a few live values in a sortable,
 * filterable table (virtualised: only the visible rows are in the DOM), and the buses' GPS
 * positions on a canvas. Data arrives once a second (`/api/v1/fleet/live`) and is applied in one
 * coalesced update, so the cost per second does not grow with the fleet's reading rate.
 */
export const fleetPage = (root: HTMLElement, alerts: AlertStore, go: (hash: string) => void) => {
  const rows = new Map<string, Row>()
  let view: Row[] = []
  let sortKey = "status"
  let sortDir = 1
  let filter = ""
  let statusFilter = ""
  let live: { now: number; since: number; ids: string[]; lastAt: number[]; values: Record<string, Array<number | null>> } | undefined
  let skew = 0 // server clock − browser clock

  const counts = h("div", { class: "counts" })
  const filterInput = h("input", { type: "search", placeholder: "filter devices (e.g. bus-00)", id: "fleet-filter", oninput: (e: Event) => ((filter = (e.target as HTMLInputElement).value.trim()), update()) })
  const statusSelect = h("select", { id: "fleet-status", onchange: (e: Event) => ((statusFilter = (e.target as HTMLSelectElement).value), update()) },
    h("option", { value: "" }, "any status"), h("option", { value: "alerting" }, "alerting"), h("option", { value: "silent" }, "silent"), h("option", { value: "ok" }, "ok"))
  const head = h("div", { class: "vrow vhead" }, ...columns.map((c) => h("span", { class: `c-${c.key}`, "data-key": c.key, onclick: () => ((sortDir = sortKey === c.key ? -sortDir : 1), (sortKey = c.key), update()) }, c.label)))
  const spacer = h("div", { class: "vspacer" })
  const body = h("div", { class: "vbody", id: "fleet-table" }, spacer)
  const canvas = h("canvas", { id: "fleet-map", width: 520, height: 520 })
  const mapNote = h("div", { class: "note" })
  root.append(
    h("section", { class: "fleet" },
      h("div", { class: "fleet-left" }, h("div", { class: "toolbar" }, filterInput, statusSelect, counts), head, body),
      h("div", { class: "fleet-right" }, h("h3", {}, "positions (GPS)"), canvas, mapNote)),
  )
  const pool: HTMLElement[] = []
  body.addEventListener("scroll", () => requestAnimationFrame(renderRows))
  body.addEventListener("click", (e) => {
    const id = (e.target as HTMLElement).closest<HTMLElement>(".vrow")?.dataset.id
    if (id) go(`#/device/${id}`)
  })

  const now = () => Date.now() + skew

  /** Merges the newest data into the rows; no DOM work. */
  const merge = () => {
    const openBy = alerts.openByDevice()
    if (live) {
      for (let i = 0; i < live.ids.length; i++) {
        const id = live.ids[i]!
        let r = rows.get(id)
        if (!r) rows.set(id, (r = { id, status: "ok", open: 0, lastAt: null, v: {} }))
        r.lastAt = live.lastAt[i]!
        for (const f of liveFields) r.v[f] = live.values[f]?.[i] ?? null
      }
    }
    const t = now()
    for (const r of rows.values()) {
      r.open = openBy.get(r.id)?.length ?? 0
      r.status = r.open > 0 ? "alerting" : r.lastAt === null || t - r.lastAt > silentMs ? "silent" : "ok"
    }
  }

  const renderRows = () => {
    const t = now()
    const first = Math.max(0, Math.floor(body.scrollTop / rowH) - 5)
    const visible = Math.ceil((body.clientHeight || 600) / rowH) + 10
    const slice = view.slice(first, first + visible)
    while (pool.length < slice.length) {
      const el = h("div", { class: "vrow" }, ...columns.map((c) => h("span", { class: `c-${c.key}` })))
      pool.push(el)
      body.append(el)
    }
    for (let i = 0; i < pool.length; i++) {
      const el = pool[i]!
      const r = slice[i]
      if (!r) {
        el.style.display = "none"
        continue
      }
      el.style.display = ""
      el.style.transform = `translateY(${(first + i) * rowH}px)`
      if (el.dataset.id !== r.id) el.dataset.id = r.id
      if (el.dataset.status !== r.status) el.dataset.status = r.status
      for (let k = 0; k < columns.length; k++) {
        const cell = el.children[k] as HTMLElement
        const text = columns[k]!.text(r, t)
        if (cell.textContent !== text) cell.textContent = text
      }
    }
  }

  const drawMap = () => {
    const ctx = canvas.getContext("2d")!
    const W = canvas.width
    const H = canvas.height
    ctx.fillStyle = "#0f1720"
    ctx.fillRect(0, 0, W, H)
    const pts = view.filter((r) => r.v.gps_lat !== null && r.v.gps_lat !== undefined && r.v.gps_lon !== null && r.v.gps_lon !== undefined)
    if (pts.length === 0) {
      mapNote.textContent = "no GPS positions yet"
      return
    }
    let [la0, la1, lo0, lo1] = [Infinity, -Infinity, Infinity, -Infinity]
    for (const r of pts) {
      la0 = Math.min(la0, r.v.gps_lat!), la1 = Math.max(la1, r.v.gps_lat!), lo0 = Math.min(lo0, r.v.gps_lon!), lo1 = Math.max(lo1, r.v.gps_lon!)
    }
    // Equirectangular with the longitude scaled by cos(latitude), so distances look right locally.
    const k = Math.cos(((la0 + la1) / 2) * (Math.PI / 180))
    const span = Math.max((lo1 - lo0) * k, la1 - la0, 1e-4) * 1.08
    const cx = (lo0 + lo1) / 2
    const cy = (la0 + la1) / 2
    const x = (lon: number) => W / 2 + (((lon - cx) * k) / span) * W
    const y = (lat: number) => H / 2 - ((lat - cy) / span) * H
    ctx.strokeStyle = "#1f2a36"
    ctx.lineWidth = 1
    for (let g = 0; g <= 10; g++) {
      ctx.beginPath(), ctx.moveTo((g * W) / 10, 0), ctx.lineTo((g * W) / 10, H), ctx.stroke()
      ctx.beginPath(), ctx.moveTo(0, (g * H) / 10), ctx.lineTo(W, (g * H) / 10), ctx.stroke()
    }
    const colour: Record<Status, string> = { ok: "#3fb950", silent: "#8b949e", alerting: "#f85149" }
    for (const s of ["silent", "ok", "alerting"] as Status[]) {
      ctx.fillStyle = colour[s]
      ctx.beginPath()
      for (const r of pts) {
        if (r.status !== s) continue
        const px = x(r.v.gps_lon!)
        const py = y(r.v.gps_lat!)
        if (s !== "alerting") ctx.rect(px - 1.5, py - 1.5, 3, 3) // cheap squares for the many, circles for the few alerting
        else {
          ctx.moveTo(px + 4, py)
          ctx.arc(px, py, 4, 0, 2 * Math.PI)
        }
      }
      ctx.fill()
    }
    ctx.fillStyle = "#f0f6fc"
    ctx.font = "11px sans-serif"
    for (const r of pts) if (r.status === "alerting") ctx.fillText(r.id, x(r.v.gps_lon!) + 6, y(r.v.gps_lat!) - 4)
    mapNote.textContent = `${pts.length} positions · lat ${la0.toFixed(3)}…${la1.toFixed(3)} · lon ${lo0.toFixed(3)}…${lo1.toFixed(3)} · ${(span * 111).toFixed(1)} km across`
  }

  /** One coalesced update: merge, filter, sort, render the visible rows and the map. */
  const update = () => {
    timed(() => {
      merge()
      const t = now()
      const col = columns.find((c) => c.key === sortKey) ?? columns[0]!
      view = [...rows.values()].filter((r) => (!filter || r.id.includes(filter)) && (!statusFilter || r.status === statusFilter))
      for (const r of view) r.k = col.get(r, t)
      view.sort((a, b) => (a.k! < b.k! ? -1 : a.k! > b.k! ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * sortDir)
      spacer.style.height = `${view.length * rowH}px`
      renderRows()
      drawMap()
      const n = { ok: 0, alerting: 0, silent: 0 }
      for (const r of rows.values()) n[r.status]++
      counts.textContent = `${rows.size} devices · ${n.ok} ok · ${n.alerting} alerting · ${n.silent} silent${filter || statusFilter ? ` · ${view.length} shown` : ""}`
      for (const s of head.children) (s as HTMLElement).dataset.sort = (s as HTMLElement).dataset.key === sortKey ? (sortDir > 0 ? "asc" : "desc") : ""
    })
    if (perf.renders.length < 50) perf.renders.push({ ms: performance.now(), rows: rows.size, live: live !== undefined })
    if (perf.firstRenderMs === null && rows.size > 0) {
      perf.firstRenderMs = performance.now()
      perf.firstRenderRows = rows.size
    }
  }

  const stopDevices = every(30_000, async () => {
    const r = await api<{ devices: Array<{ id: string; lastSeen: number | null }> }>("/api/v1/devices?limit=100000")
    for (const d of r.devices) if (!rows.has(d.id)) rows.set(d.id, { id: d.id, status: "silent", open: 0, lastAt: null, v: {} })
    update()
  })
  const stopLive = every(1_000, async () => {
    const r = await api<{ now: number; since: number; ids: string[]; lastAt: number[]; values: Record<string, Array<number | null>> }>(`/api/v1/fleet/live?fields=${liveFields.join(",")}`)
    skew = r.now - Date.now()
    live = r
    update()
  })
  return () => {
    stopDevices()
    stopLive()
  }
}
