import { allows, api, ApiError, type Role } from "./api.ts"
import { h, stamp } from "./dom.ts"

/** `origin:line:col: message` → line number (the API's issues are formatted as `ops rules validate` prints them). */
export const issueLine = (issue: string): number | null => {
  const m = /:(\d+):(\d+): /.exec(issue)
  return m ? Number(m[1]) : null
}

/**
 * The rules page: the active version's source in an editor with line numbers; validate shows each
 * problem at its line; admins apply and roll back; the stored versions are listed.
 */
export const rulesPage = async (root: HTMLElement, role: Role) => {
  const admin = allows(role, "admin")
  const editor = h("textarea", { id: "rules-editor", spellcheck: false, wrap: "off", ...(admin ? {} : { readonly: true }) })
  const gutter = h("div", { class: "gutter", id: "rules-gutter" })
  const out = h("div", { class: "rules-out", id: "rules-result" })
  const history = h("tbody", { id: "rules-history" })
  const current = h("div", { class: "note", id: "rules-current" })
  let marked = new Map<number, string>()
  const drawGutter = () => {
    const n = editor.value.split("\n").length
    gutter.replaceChildren(...Array.from({ length: n }, (_, i) => h("div", { class: marked.has(i + 1) ? "bad" : "", title: marked.get(i + 1) ?? "" }, String(i + 1))))
    gutter.scrollTop = editor.scrollTop
  }
  editor.addEventListener("input", () => ((marked = new Map()), drawGutter()))
  editor.addEventListener("scroll", () => (gutter.scrollTop = editor.scrollTop))
  const showIssues = (issues: string[]) => {
    marked = new Map(issues.flatMap((i) => (issueLine(i) ? [[issueLine(i)!, i] as [number, string]] : [])))
    drawGutter()
    const first = Math.min(...marked.keys())
    if (Number.isFinite(first)) editor.scrollTop = Math.max(0, (first - 4) * 18) // bring the first problem into view
    out.className = "rules-out bad"
    out.replaceChildren(...issues.map((i) => {
      const line = issueLine(i)
      return h("div", { class: "issue", "data-line": line ?? "" }, line ? h("a", { href: "#", onclick: (e: Event) => (e.preventDefault(), goToLine(line)) }, `line ${line}`) : "", ` ${i}`)
    }))
  }
  const goToLine = (line: number) => {
    const lines = editor.value.split("\n")
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0)
    editor.focus()
    editor.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0))
    editor.scrollTop = (line - 3) * 18
  }
  const ok = (text: string) => ((out.className = "rules-out ok"), out.replaceChildren(text), (marked = new Map()), drawGutter())
  const failed = (e: unknown) => {
    if (e instanceof ApiError && e.body.issues) showIssues(e.body.issues)
    else ((out.className = "rules-out bad"), out.replaceChildren(e instanceof ApiError ? `${e.status}: ${e.message}` : String(e)))
  }
  const validate = async () => {
    try {
      const r = await api<{ ok: boolean; issues?: string[]; rules?: number; windows?: number; checksum?: string }>("/api/v1/rules/validate?origin=editor", { method: "POST", body: editor.value })
      if (r.ok) ok(`valid: ${r.rules} rules, ${r.windows} windows, checksum ${r.checksum}`)
      else showIssues(r.issues ?? [])
    } catch (e) {
      failed(e)
    }
  }
  const apply = async () => {
    try {
      const r = await api<{ version: number; checksum: string }>("/api/v1/rules?origin=dashboard", { method: "PUT", body: editor.value })
      ok(`applied as version ${r.version} (checksum ${r.checksum}); every node swaps to it`)
      await load(false)
    } catch (e) {
      failed(e)
    }
  }
  const rollback = async (version: number) => {
    try {
      const r = await api<{ version: number }>("/api/v1/rules/rollback", { method: "POST", body: { version } })
      ok(`version ${version} re-applied as version ${r.version}`)
      await load(true)
    } catch (e) {
      failed(e)
    }
  }
  const load = async (replaceSource: boolean) => {
    const [cur, hist] = await Promise.all([
      api<{ version: number | null; source: string | null; checksum: string | null; appliedAt: number | null; origin: string }>("/api/v1/rules"),
      api<{ active: number | null; versions: Array<{ version: number; checksum: string; appliedAt: number; origin: string }> }>("/api/v1/rules/history"),
    ])
    current.textContent = cur.version === null ? `no stored version: nodes run their start-up file (${cur.origin})` : `active: version ${cur.version} · ${cur.origin} · ${stamp(cur.appliedAt!)} · checksum ${cur.checksum}`
    if (replaceSource) editor.value = cur.source ?? "# no stored rule set yet: nodes run their start-up file (rules.file)\n"
    drawGutter()
    history.replaceChildren(...hist.versions.slice().reverse().map((v) => h("tr", { class: v.version === hist.active ? "active" : "" },
      h("td", {}, String(v.version)), h("td", {}, stamp(v.appliedAt)), h("td", {}, v.origin), h("td", { class: "mono" }, v.checksum.slice(0, 12)),
      h("td", {}, admin && v.version !== hist.active ? h("button", { class: "small", "data-rollback": v.version, onclick: () => rollback(v.version) }, "roll back to this") : v.version === hist.active ? "active" : ""))))
  }
  root.append(h("section", { class: "rules" },
    current,
    h("div", { class: "editor" }, gutter, editor),
    h("div", { class: "toolbar" },
      h("button", { id: "rules-validate", onclick: validate }, "validate"),
      admin ? h("button", { id: "rules-apply", class: "primary", onclick: apply }, "apply") : h("span", { class: "note" }, "only admins may apply or roll back"),
      h("button", { onclick: () => load(true) }, "reload active")),
    out,
    h("h3", {}, "history"),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ...["version", "applied", "origin", "checksum", ""].map((c) => h("th", {}, c)))), history)))
  await load(true)
}
