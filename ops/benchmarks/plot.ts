/**
 * Line charts for benchmark results, written by the benchmarks themselves (docs/benchmarks.md
 * shows them): an SVG built here, rendered to PNG by @resvg/resvg-js (a prebuilt renderer, no
 * browser, no network; system fonts for the labels).
 */
import { Resvg } from "@resvg/resvg-js"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"

export interface Series {
  readonly name: string
  readonly points: ReadonlyArray<readonly [number, number]>
}

export interface Chart {
  readonly title: string
  readonly x: string
  readonly y: string
  readonly series: ReadonlyArray<Series>
  /** Horizontal reference lines (goals), drawn dashed. */
  readonly marks?: ReadonlyArray<{ readonly label: string; readonly y: number }>
}

const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
const fmt = (v: number) => (Math.abs(v) >= 1000 ? `${Math.round(v / 100) / 10}k` : String(Math.round(v * 10) / 10))

/** Round tick values covering [0, max]. */
const ticks = (max: number): number[] => {
  const raw = max / 5
  const mag = 10 ** Math.floor(Math.log10(raw || 1))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag
  return Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step)
}

/** The chart as SVG; the x axis is logarithmic when the values span 20× or more. */
export const chartSvg = (c: Chart, width = 800, height = 420): string => {
  const [left, right, top, bottom] = [80, 230, 40, 60]
  const xs = c.series.flatMap((s) => s.points.map((p) => p[0]))
  const ys = [...c.series.flatMap((s) => s.points.map((p) => p[1])), ...(c.marks ?? []).map((m) => m.y)]
  const [xmin, xmax] = [Math.min(...xs), Math.max(...xs)]
  const log = xmin > 0 && xmax / xmin >= 20
  const ymax = Math.max(1, ...ys) * 1.1
  const w = width - left - right
  const h = height - top - bottom
  const fx = (x: number) => left + (xmax === xmin ? w / 2 : log
    ? ((Math.log10(x) - Math.log10(xmin)) / (Math.log10(xmax) - Math.log10(xmin))) * w
    : ((x - xmin) / (xmax - xmin)) * w)
  const fy = (y: number) => top + h - (y / ymax) * h
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="24" font-size="15" font-weight="bold">${esc(c.title)}</text>`,
  ]
  for (const t of ticks(ymax)) {
    out.push(`<line x1="${left}" x2="${left + w}" y1="${fy(t)}" y2="${fy(t)}" stroke="#ddd"/>`)
    out.push(`<text x="${left - 6}" y="${fy(t) + 4}" text-anchor="end">${fmt(t)}</text>`)
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    out.push(`<line x1="${fx(x)}" x2="${fx(x)}" y1="${top}" y2="${top + h}" stroke="#eee"/>`)
    out.push(`<text x="${fx(x)}" y="${top + h + 16}" text-anchor="middle">${fmt(x)}</text>`)
  }
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + h}" stroke="black"/>`)
  out.push(`<line x1="${left}" x2="${left + w}" y1="${top + h}" y2="${top + h}" stroke="black"/>`)
  out.push(`<text x="${left + w / 2}" y="${height - 16}" text-anchor="middle">${esc(c.x)}${log ? " (log scale)" : ""}</text>`)
  out.push(`<text transform="translate(18 ${top + h / 2}) rotate(-90)" text-anchor="middle">${esc(c.y)}</text>`)
  ;(c.marks ?? []).forEach((m) => {
    out.push(`<line x1="${left}" x2="${left + w}" y1="${fy(m.y)}" y2="${fy(m.y)}" stroke="#888" stroke-dasharray="6 4"/>`)
    out.push(`<text x="${left + w + 6}" y="${fy(m.y) + 4}" fill="#555">${esc(m.label)}</text>`)
  })
  c.series.forEach((s, i) => {
    const color = colors[i % colors.length]!
    const pts = [...s.points].sort((a, b) => a[0] - b[0])
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([x, y]) => `${fx(x)},${fy(y)}`).join(" ")}"/>`)
    for (const [x, y] of pts) out.push(`<circle cx="${fx(x)}" cy="${fy(y)}" r="3.5" fill="${color}"/>`)
    const ly = top + 10 + i * 18
    out.push(`<rect x="${left + w + 10}" y="${ly + 40}" width="12" height="4" fill="${color}"/>`)
    out.push(`<text x="${left + w + 28}" y="${ly + 46}">${esc(s.name)}</text>`)
  })
  out.push("</svg>")
  return out.join("\n")
}

/** Writes the chart as PNG to `path` (directories created). */
export const writeChartPng = (path: string, c: Chart): void => {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, new Resvg(chartSvg(c), { font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" } }).render().asPng())
}
