/** Tiny DOM helpers: build elements without a framework. */

type Attrs = Record<string, string | number | boolean | ((e: any) => void) | undefined>

/** `h("div", { class: "x", onclick: f }, "text", child)`. */
export const h = <K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Array<Node | string | null | undefined | false>): HTMLElementTagNameMap[K] => {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue
    if (typeof v === "function") el.addEventListener(k.slice(2), v)
    else if (k === "value") (el as HTMLInputElement).value = String(v)
    else el.setAttribute(k, v === true ? "" : String(v))
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c)
  return el
}

/** Formats a number for a table cell. */
export const fmt = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(digits))

/** "12:03:04" (local) for epoch ms. */
export const clock = (t: number) => new Date(t).toLocaleTimeString([], { hour12: false })

/** "2026-11-25 12:03:04" (local). */
export const stamp = (t: number) => {
  const d = new Date(t)
  const p = (n: number) => String(n).padStart(2, "0")
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

/** Runs `f` every `ms` after the previous run finished, until `stop()`. */
export const every = (ms: number, f: () => Promise<void> | void) => {
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const tick = async () => {
    try {
      await f()
    } catch (e) {
      console.warn(e)
    }
    if (!stopped) timer = setTimeout(tick, ms)
  }
  void tick()
  return () => {
    stopped = true
    clearTimeout(timer)
  }
}
