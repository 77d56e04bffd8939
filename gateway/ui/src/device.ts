import uPlot from "uplot"
import { api } from "./api.ts"
import { every, fmt, h, stamp } from "./dom.ts"

const ranges: Record<string, number> = { "15 min": 900_000, "1 h": 3_600_000, "6 h": 21_600_000, "24 h": 86_400_000, "7 d": 604_800_000 }
const points = 600

/** Draws a vertical line per alert transition on a chart (red raised/escalated, green cleared). */
const alertMarkers = (marks: () => Array<{ at: number; kind: string }>): uPlot.Plugin => ({
  hooks: {
    draw: [(u) => {
      const ctx = u.ctx
      ctx.save()
      ctx.lineWidth = 2 * devicePixelRatio
      for (const m of marks()) {
        const x = u.valToPos(m.at / 1000, "x", true)
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue
        ctx.strokeStyle = m.kind === "cleared" ? "#3fb950" : "#f85149"
        ctx.beginPath()
        ctx.moveTo(x, u.bbox.top)
        ctx.lineTo(x, u.bbox.top + u.bbox.height)
        ctx.stroke()
      }
      ctx.restore()
    }],
  },
})

/**
 * One device: its live state from the actor (latest values, open alerts; refreshed every second)
 * and history charts (uPlot) of the chosen fields over the chosen range, downsampled by the API
 * to ~600 points, with the device's alert transitions marked on the time axis.
 */
export const devicePage = async (root: HTMLElement, id: string) => {
  const live = await api<{ latest: Record<string, number>; lastTs: number | null; alerts: Array<{ rule: string; alertId: string; severity: string; openedAt: number }> }>(`/api/v1/devices/${id}`)
  const fields = Object.keys(live.latest).sort()
  let chosen = new Set(["coolant_temp_c", "speed_kmh", "engine_rpm"].filter((f) => fields.includes(f)))
  if (chosen.size === 0) chosen = new Set(fields.slice(0, 3))
  let range = "1 h"
  let marks: Array<{ at: number; kind: string }> = []
  const charts = h("div", { class: "charts", id: "device-charts" })
  const liveBox = h("table", { class: "grid compact", id: "device-live" })
  const liveHead = h("div", { class: "note", id: "device-live-at" })
  const openBox = h("ul", { id: "device-alerts" })
  const picker = h("div", { class: "picker" }, ...fields.map((f) => h("label", {},
    h("input", { type: "checkbox", value: f, ...(chosen.has(f) ? { checked: true } : {}), onchange: (e: Event) => ((e.target as HTMLInputElement).checked ? chosen.add(f) : chosen.delete(f), void loadHistory()) }), ` ${f}`)))
  root.append(h("section", { class: "device" },
    h("h2", {}, id),
    h("div", { class: "device-grid" },
      h("div", {},
        h("div", { class: "toolbar" }, "range ",
          h("select", { id: "device-range", onchange: (e: Event) => ((range = (e.target as HTMLSelectElement).value), void loadHistory()) },
            ...Object.keys(ranges).map((r) => h("option", { value: r, ...(r === range ? { selected: true } : {}) }, r)))),
        charts,
        h("details", {}, h("summary", {}, "fields"), picker)),
      h("div", {}, h("h3", {}, "live values"), liveHead, liveBox, h("h3", {}, "open alerts"), openBox))))

  const drawLive = (s: typeof live) => {
    liveHead.dataset.ts = String(s.lastTs ?? "")
    liveHead.textContent = s.lastTs ? `newest reading ${stamp(s.lastTs)} (${((Date.now() - s.lastTs) / 1000).toFixed(1)} s ago)` : "no reading yet"
    liveBox.replaceChildren(...Object.keys(s.latest).sort().map((k) => h("tr", { class: chosen.has(k) ? "chosen" : "" }, h("td", {}, k), h("td", { class: "num", "data-field": k }, fmt(s.latest[k], 2)))))
    openBox.replaceChildren(...(s.alerts.length ? s.alerts.map((a) => h("li", { class: `sev-${a.severity}` }, h("a", { href: `#/alerts/${encodeURIComponent(a.alertId)}` }, `${a.rule} (${a.severity}) since ${stamp(a.openedAt)}`))) : [h("li", { class: "note" }, "none")]))
  }
  drawLive(live)

  let plots: uPlot[] = []
  const loadHistory = async () => {
    const to = Date.now()
    const from = to - ranges[range]!
    const list = [...chosen]
    if (list.length === 0) {
      charts.replaceChildren(h("p", { class: "note" }, "choose fields below"))
      return
    }
    const [hist, al] = await Promise.all([
      api<{ t: number[]; bucketMs: number; values: Record<string, Array<number | null>> }>(`/api/v1/devices/${id}/history?from=${from}&to=${to}&points=${points}&fields=${list.join(",")}`),
      api<{ alerts: Array<{ alertId: string }> }>(`/api/v1/alerts?device=${id}&from=${from}&to=${to}`),
    ])
    const details = await Promise.all(al.alerts.slice(0, 20).map((a) => api<{ transitions: Array<{ at: number; kind: string }> }>(`/api/v1/alerts/${encodeURIComponent(a.alertId)}`)))
    marks = details.flatMap((d) => d.transitions).filter((t) => t.at >= from && t.at <= to)
    for (const p of plots) p.destroy()
    const width = Math.max(400, charts.clientWidth || 800)
    const xs = hist.t.map((t) => t / 1000)
    plots = list.map((f) => new uPlot({
      title: `${f}${hist.bucketMs ? ` (avg per ${hist.bucketMs >= 60_000 ? `${hist.bucketMs / 60_000} min` : `${(hist.bucketMs / 1000).toFixed(0)} s`})` : " (raw)"}`,
      width, height: 180, cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true } }, // fitted to the data: a young device's history is not a sliver at the right edge
      series: [{}, { label: f, stroke: "#58a6ff", width: 1.5, spanGaps: false }],
      axes: [{ stroke: "#8b949e", grid: { stroke: "#21262d" } }, { stroke: "#8b949e", grid: { stroke: "#21262d" } }],
      plugins: [alertMarkers(() => marks)],
    }, [xs, hist.values[f] ?? []] as uPlot.AlignedData, charts))
    charts.dataset.points = String(hist.t.length)
    charts.dataset.marks = String(marks.length)
  }
  charts.replaceChildren()
  await loadHistory()
  const stopLive = every(1_000, async () => drawLive(await api(`/api/v1/devices/${id}`)))
  // Short ranges follow the present; the first load happened above.
  const histTimer = setInterval(() => ranges[range]! <= 3_600_000 && void loadHistory().catch(console.warn), 15_000)
  return () => {
    stopLive()
    clearInterval(histTimer)
    for (const p of plots) p.destroy()
  }
}
