import type { clusterView } from "./cluster-view.ts"
import { age, table } from "./table.ts"

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

/** "0-3,7,9-10" for [0,1,2,3,7,9,10]. */
export const ranges = (xs: ReadonlyArray<number>): string => {
  const out: string[] = []
  for (let i = 0; i < xs.length; i++) {
    let j = i
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++
    out.push(j > i ? `${xs[i]}-${xs[j]}` : `${xs[i]}`)
    i = j
  }
  return out.join(",") || "-"
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
    table(["node", "alive", "shards", "which", "heartbeat"], view.members.map((m) => {
      const own = view.shards.filter((x) => x.owner === m.id).map((x) => x.shard)
      return [m.id, m.alive ? "yes" : "NO", own.length, ranges(own), age(m.heartbeatAgeMs)]
    })),
    "",
    `lag per shard (pending batches)${view.unowned.length ? `   UNOWNED: ${view.unowned.join(",")}` : ""}`,
    view.shards.map((x) => `${String(x.shard).padStart(2)}:${x.pendingBatches ?? "-"}`).join(" "),
  ]
  return lines.join("\n")
}
