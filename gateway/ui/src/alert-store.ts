import { api, token } from "./api.ts"

/** One alert as the list shows it (GET /api/v1/alerts, then kept current from the SSE stream). */
export interface AlertRow {
  alertId: string
  device: string
  rule: string
  severity: string
  state: "open" | "closed"
  lastKind: string
  lastAt: number
  raisedAt: number | null
  message: string
  acknowledged: boolean
  /** Browser time when the row was first shown (for the feed-latency test). */
  shownAt?: number
  values?: Record<string, number>
}

/** A transition as the SSE stream sends it. */
export interface Transition {
  id: string
  alertId: string
  device: string
  rule: string
  kind: "raised" | "escalated" | "cleared"
  severity: string
  at: number
  seq: number
  message: string
  values: Record<string, number>
}

/**
 * Every alert of the last day, by id, kept live: loaded once, then each transition from
 * `/api/v1/alerts/stream` (one EventSource for the whole page) updates it. Listeners are told
 * at most every 500 ms (coalesced), never once per transition.
 */
export class AlertStore {
  readonly byId = new Map<string, AlertRow>()
  /** Transitions received since the page loaded, newest last (bounded). */
  readonly recent: Transition[] = []
  connected = false
  private readonly listeners = new Set<() => void>()
  private dirty = false
  private source: EventSource | undefined
  private timer: ReturnType<typeof setInterval> | undefined

  async start(): Promise<void> {
    this.source = new EventSource(`/api/v1/alerts/stream?access_token=${encodeURIComponent(token.get() ?? "")}`)
    this.source.addEventListener("hello", () => {
      this.connected = true
      this.touch()
    })
    this.source.addEventListener("transition", (e) => this.apply(JSON.parse((e as MessageEvent).data) as Transition))
    this.source.onerror = () => {
      this.connected = false
      this.touch()
    }
    const r = await api<{ alerts: AlertRow[] }>(`/api/v1/alerts?limit=10000&from=${Date.now() - 86_400_000}`)
    for (const a of r.alerts) if (!this.byId.has(a.alertId)) this.byId.set(a.alertId, a)
    this.touch()
    this.timer = setInterval(() => {
      if (!this.dirty) return
      this.dirty = false
      for (const f of this.listeners) f()
    }, 500)
  }

  stop() {
    this.source?.close()
    clearInterval(this.timer)
  }

  /** Called (coalesced) after changes; returns an unsubscribe. */
  listen(f: () => void): () => void {
    this.listeners.add(f)
    return () => void this.listeners.delete(f)
  }

  /** Open alerts per device. */
  openByDevice(): Map<string, AlertRow[]> {
    const m = new Map<string, AlertRow[]>()
    for (const a of this.byId.values()) {
      if (a.state !== "open") continue
      let l = m.get(a.device)
      if (!l) m.set(a.device, (l = []))
      l.push(a)
    }
    return m
  }

  /** Marks an alert acknowledged locally (after the API said yes). */
  acked(alertId: string) {
    const a = this.byId.get(alertId)
    if (a) a.acknowledged = true
    this.touch()
  }

  private apply(t: Transition) {
    this.recent.push(t)
    if (this.recent.length > 2000) this.recent.splice(0, 1000)
    const a = this.byId.get(t.alertId)
    const row: AlertRow = {
      alertId: t.alertId, device: t.device, rule: t.rule, severity: t.severity, state: t.kind === "cleared" ? "closed" : "open",
      lastKind: t.kind, lastAt: t.at, raisedAt: a?.raisedAt ?? (t.kind === "raised" ? t.at : null), message: t.message,
      acknowledged: a?.acknowledged ?? false, values: t.values, ...(a?.shownAt ? { shownAt: a.shownAt } : {}),
    }
    if (!a || t.at >= a.lastAt) this.byId.set(t.alertId, row)
    this.touch()
  }

  private touch() {
    this.dirty = true
  }
}
