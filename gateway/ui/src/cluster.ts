import { api } from "./api.ts"
import { every, fmt, h } from "./dom.ts"

interface Member { id: string; roles?: string[]; version?: string; heartbeatAgeMs: number; alive: boolean; shards: number }
interface Shard { shard: number; owner: string | null; epoch: number | null; checkpointSeq: number | null; processedSeq: number | null; pendingBatches: number | null; actors: number | null; readings: number | null }

/**
 * The cluster page: members, the shards each holds with lag (pending batches) per shard, and
 * readings/s processed (Σ shard hosts' counters) and stored (telemetry rows), from differences
 * between two polls two seconds apart.
 */
export const clusterPage = (root: HTMLElement) => {
  const rates = h("div", { class: "rates", id: "cluster-rates" }, "measuring readings/s …")
  const members = h("tbody", { id: "cluster-members" })
  const shards = h("div", { class: "shards", id: "cluster-shards" })
  root.append(h("section", {},
    rates,
    h("h3", {}, "nodes"),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ...["node", "roles", "version", "heartbeat age", "alive", "shards"].map((c) => h("th", {}, c)))), members),
    h("h3", {}, "shards (owner · lag in pending batches · actors)"), shards))
  let prev: { t: number; processed: number; stored: number; perShard: Map<number, number> } | undefined
  return every(2_000, async () => {
    const [m, s, st] = await Promise.all([
      api<{ members: Member[] }>("/api/v1/cluster/members"),
      api<{ partitions: number; unowned: number[]; shards: Shard[] }>("/api/v1/cluster/shards"),
      api<{ at: number; rows: number }>("/api/v1/cluster/stored"),
    ])
    const t = Date.now()
    const processed = s.shards.reduce((n, x) => n + (x.readings ?? 0), 0)
    const perShard = new Map(s.shards.map((x) => [x.shard, x.readings ?? 0]))
    const perSec = (a: number, b: number) => Math.max(0, (a - b) / ((t - prev!.t) / 1000))
    if (prev) {
      rates.replaceChildren(
        h("div", {}, h("b", { id: "rate-in" }, fmt(perSec(processed, prev.processed), 0)), " readings/s in (processed by shard hosts)"),
        h("div", {}, h("b", { id: "rate-stored" }, fmt(perSec(st.rows, prev.stored), 0)), " readings/s stored (ClickHouse)"),
        h("div", {}, h("b", {}, String(s.partitions)), ` shards · ${s.unowned.length} unowned`),
        h("div", {}, h("b", {}, String(m.members.filter((x) => x.alive).length)), ` of ${m.members.length} nodes alive`))
    }
    members.replaceChildren(...m.members.sort((a, b) => a.id.localeCompare(b.id)).map((x) => h("tr", { class: x.alive ? "" : "dead" },
      h("td", {}, x.id), h("td", {}, (x.roles ?? []).join(", ")), h("td", {}, x.version ?? ""), h("td", {}, `${(x.heartbeatAgeMs / 1000).toFixed(1)} s`),
      h("td", {}, x.alive ? "yes" : "no"), h("td", {}, String(x.shards)))))
    const owners = [...new Set(s.shards.map((x) => x.owner ?? "(none)"))].sort()
    shards.replaceChildren(...owners.map((o) => h("div", { class: "owner" }, h("h4", {}, o),
      h("div", { class: "cells" }, ...s.shards.filter((x) => (x.owner ?? "(none)") === o).map((x) => {
        const rate = prev ? perSec(x.readings ?? 0, prev.perShard.get(x.shard) ?? 0) : null
        const lag = x.pendingBatches ?? 0
        return h("div", { class: `cell ${lag > 10 ? "lagging" : ""}`, title: `shard ${x.shard}: epoch ${x.epoch}, checkpoint ${x.checkpointSeq}, processed ${x.processedSeq}` },
          h("b", {}, `#${x.shard}`), h("span", {}, `lag ${x.pendingBatches ?? "?"}`), h("span", {}, `${x.actors ?? "?"} actors`), h("span", {}, rate === null ? "" : `${fmt(rate, 0)}/s`))
      })))))
    prev = { t, processed, stored: st.rows, perShard }
  })
}
