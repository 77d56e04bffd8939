import type { clusterView } from "./cluster-view.ts"
import { age, table } from "./context.ts"

/** Figures of one summary refresh. */
export interface Sample {
  readonly t: number
  /** Readings processed by shard hosts since they started (sum over nodes). */
  readonly readingsIn: number
  /** Rows in ClickHouse telemetry. */
  readonly stored: number
  readonly raised: number
  readonly cleared: number
}

/** The `ops/up` screen: rates, alerts, lag per shard and which node holds which shards. */
export const renderSummary = (view: Awaited<ReturnType<typeof clusterView>>, s: Sample, prev: Sample | undefined, fleetLine: string): string => {
  const dt = prev ? (s.t - prev.t) / 1000 : 0
  const rate = (a: number, b: number | undefined) => (prev && dt > 0 && b !== undefined ? Math.max(0, Math.round((a - b) / dt)) : 0)
  const lines = [
    `akis  ${new Date(s.t).toISOString()}  (Ctrl-C stops everything)`,
    "",
    `readings/s in ${rate(s.readingsIn, prev?.readingsIn)}    stored/s ${rate(s.stored, prev?.stored)}    rows stored ${s.stored}`,
    `alerts: raised ${s.raised}, cleared ${s.cleared}, open ${Math.max(0, s.raised - s.cleared)}`,
    `fleet: ${fleetLine.slice(0, 150)}`,
    "",
    table(["node", "alive", "shards", "heartbeat"], view.members.map((m) => [m.id, m.alive ? "yes" : "NO", view.shards.filter((x) => x.owner === m.id).map((x) => x.shard).join(",") || "-", age(m.heartbeatAgeMs)])),
    "",
    `lag per shard (pending batches)${view.unowned.length ? `   UNOWNED: ${view.unowned.join(",")}` : ""}`,
    view.shards.map((x) => `${String(x.shard).padStart(2)}:${x.pendingBatches ?? "-"}`).join(" "),
  ]
  return lines.join("\n")
}
