/** The one text-table renderer of the CLI: every command that prints columns uses it. */

export type Cell = string | number | boolean | null | undefined
export interface TableOptions {
  /** Right-align these columns (numbers); the others are left-aligned. */
  readonly right?: ReadonlyArray<number>
}

const show = (c: Cell | object): string =>
  c === null || c === undefined ? "-" : typeof c === "object" ? JSON.stringify(c) : String(c)

/** Aligned columns, two spaces apart, a dashed rule under the headers; missing values show as "-". */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<Cell>>, o: TableOptions = {}): string => {
  const cells = [headers.map(String), ...rows.map((r) => headers.map((_, i) => show(r[i])))]
  return render(cells, o, true)
}

/** A record as two aligned columns, key and value (objects as JSON), without headers. */
export const keyValues = (r: object): string =>
  render(Object.entries(r).map(([k, v]) => [k, show(v as Cell)]), {}, false)

const render = (cells: ReadonlyArray<ReadonlyArray<string>>, o: TableOptions, rule: boolean): string => {
  if (cells.length === 0) return ""
  const n = Math.max(...cells.map((r) => r.length))
  const widths = Array.from({ length: n }, (_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)))
  const line = (r: ReadonlyArray<string>) =>
    widths.map((w, i) => (o.right?.includes(i) ? (r[i] ?? "").padStart(w) : (r[i] ?? "").padEnd(w))).join("  ").trimEnd()
  const lines = cells.map(line)
  if (rule) lines.splice(1, 0, line(widths.map((w) => "-".repeat(w))))
  return lines.join("\n")
}

/** Formats a millisecond age as "1.2s" / "3m". */
export const age = (ms: number | null | undefined): string =>
  ms === null || ms === undefined ? "-" : ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 60_000)}m`

/** Formats a byte count as "512 B" / "1.5 KiB" / "2.0 MiB" / "1.25 GiB". */
export const bytes = (n: number): string =>
  n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(2)} GiB`
