import { Schema } from "effect"
import { streamSSE } from "hono/streaming"
import { deviceIdPattern, historyLimits, ruleNamePattern } from "../../../actors/sink/index.ts"
import type { AlertTransition } from "../../../runtime/alert.ts"
import { ApiProblem } from "../errors.ts"
import { p, required } from "../params.ts"
import { route } from "../route.ts"

const alertId = required(p.match(/^[A-Za-z0-9_.:-]{1,300}$/, "an alert id (as in transitions: <device>:<rule>:<n>)"))
const severity = p.oneOf(["info", "warning", "critical"], "severity")
const day = 86_400_000

/** One alert in the list: its newest transition and whether it is open. */
export interface AlertSummary {
  readonly alertId: string
  readonly device: string
  readonly rule: string
  readonly severity: string
  readonly state: "open" | "closed"
  readonly lastKind: AlertTransition["kind"]
  readonly lastAt: number
  readonly raisedAt: number | null
  readonly message: string
  readonly acknowledged: boolean
}

/** Groups transitions (newest first) into one summary per alert id. */
export const summarize = (ts: ReadonlyArray<AlertTransition>, acked: ReadonlySet<string>): AlertSummary[] => {
  const by = new Map<string, { newest: AlertTransition; raisedAt: number | null }>()
  for (const t of ts) {
    const s = by.get(t.alertId)
    if (!s) by.set(t.alertId, { newest: t, raisedAt: t.kind === "raised" ? t.at : null })
    else if (t.kind === "raised") s.raisedAt = t.at
  }
  return [...by.values()].map(({ newest: t, raisedAt }) => ({
    alertId: t.alertId, device: t.device, rule: t.rule, severity: t.severity, state: t.kind === "cleared" ? "closed" : "open",
    lastKind: t.kind, lastAt: t.at, raisedAt, message: t.message, acknowledged: acked.has(t.alertId),
  }))
}

const Comment = Schema.Struct({ text: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(4000)) })
const Ack = Schema.Struct({ comment: Schema.optional(Schema.String.check(Schema.isMaxLength(4000))) })

/** Alerts: list and filter, one alert's transitions and notes, acknowledge, comment, live stream. */
export const alertRoutes = [
  route({
    method: "GET", path: "/api/v1/alerts", role: "viewer", tag: "alerts",
    summary: "Alerts (one row per alert id, newest transition first) with transitions in [from, to], filtered",
    query: {
      from: p.time("start (default: to − 1 day)"), to: p.time("end (default: now)"),
      device: p.match(deviceIdPattern, "a device id"), rule: p.match(ruleNamePattern, "a rule name"), severity,
      state: p.oneOf(["open", "closed"], "open: newest transition is not `cleared`"),
      limit: p.int(1, historyLimits.maxAlerts, "most transitions read"),
    },
    handle: async ({ deps, query }) => {
      const to = (query.to as number | undefined) ?? deps.clock.now()
      const ts = await deps.alerts({
        from: (query.from as number | undefined) ?? to - day, to, device: query.device as string | undefined, rule: query.rule as string | undefined,
        severity: query.severity as "info" | undefined, limit: (query.limit as number | undefined) ?? historyLimits.maxAlerts,
      })
      const ids = [...new Set(ts.map((t) => t.alertId))]
      const all = summarize(ts, await deps.audit.acknowledged(ids))
      return { alerts: query.state ? all.filter((a) => a.state === query.state) : all }
    },
  }),
  route({
    method: "GET", path: "/api/v1/alerts/stream", role: "viewer", tag: "alerts", produces: "text/event-stream",
    summary: "Server-Sent Events: every alert transition as it is published (event `transition`); `?access_token=` for EventSource",
    query: { device: p.match(deviceIdPattern, "only this device"), severity: p.oneOf(["info", "warning", "critical"], "only this severity") },
    handle: ({ deps, query, c }) =>
      streamSSE(c, async (stream) => {
        const queue: AlertTransition[] = []
        let wake: (() => void) | undefined
        const off = deps.subscribeAlerts((t) => {
          if ((query.device && t.device !== query.device) || (query.severity && t.severity !== query.severity)) return
          if (queue.length < 10_000) queue.push(t) // a client that reads nothing cannot grow memory without bound
          wake?.()
        })
        // A comment every 15 s keeps proxies from closing an idle connection.
        const stopKeepAlive = deps.clock.every(15_000, () => void stream.write(": keep-alive\n\n").catch(() => {}))
        stream.onAbort(() => {
          off()
          stopKeepAlive()
          wake?.()
        })
        await stream.writeSSE({ event: "hello", data: JSON.stringify({ at: deps.clock.now() }) })
        while (!stream.aborted && !stream.closed) {
          const t = queue.shift()
          if (t) {
            await stream.writeSSE({ event: "transition", id: t.id, data: JSON.stringify(t) })
            continue
          }
          await new Promise<void>((r) => (wake = r))
          wake = undefined
        }
        off()
        stopKeepAlive()
      }),
  }),
  route({
    method: "GET", path: "/api/v1/alerts/{alertId}", role: "viewer", tag: "alerts",
    summary: "One alert: every stored transition (oldest first), acknowledgements and comments",
    pathParams: { alertId },
    handle: async ({ deps, path }) => {
      const id = path.alertId as string
      const [transitions, notes, extras] = await Promise.all([deps.alertTransitions(id), deps.audit.notes(id), deps.alertExtras?.(id) ?? {}])
      if (transitions.length === 0 && notes.length === 0) throw new ApiProblem({ status: 404, code: "not_found", message: `no alert ${id}` })
      return { alertId: id, transitions, notes, acknowledged: notes.some((n) => n.kind === "ack"), ...extras }
    },
  }),
  route({
    method: "POST", path: "/api/v1/alerts/{alertId}/ack", role: "operator", tag: "alerts", audited: true, status: 201,
    summary: "Acknowledge an alert (optionally with a comment); audited",
    pathParams: { alertId },
    body: { kind: "json", param: p.body(Ack, "{ comment?: string }") },
    handle: async ({ deps, path, body, caller }) => {
      const id = path.alertId as string
      const at = deps.clock.now()
      const text = (body as { comment?: string }).comment ?? ""
      await deps.audit.addNote({ alertId: id, at, by: caller!.name, kind: "ack", text })
      await deps.audit.append({ at, actor: caller!.name, role: caller!.role, action: "alert.ack", target: id, detail: text ? { comment: text } : {} })
      return { alertId: id, acknowledged: true, at, by: caller!.name }
    },
  }),
  route({
    method: "POST", path: "/api/v1/alerts/{alertId}/comments", role: "operator", tag: "alerts", audited: true, status: 201,
    summary: "Comment on an alert; audited",
    pathParams: { alertId },
    body: { kind: "json", param: p.body(Comment, "{ text: string (1–4000 chars) }") },
    handle: async ({ deps, path, body, caller }) => {
      const id = path.alertId as string
      const at = deps.clock.now()
      const text = (body as { text: string }).text
      await deps.audit.addNote({ alertId: id, at, by: caller!.name, kind: "comment", text })
      await deps.audit.append({ at, actor: caller!.name, role: caller!.role, action: "alert.comment", target: id, detail: { text } })
      return { alertId: id, at, by: caller!.name, text }
    },
  }),
]
