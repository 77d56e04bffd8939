import { route } from "../route.ts"

/** Cluster views (as `ops cluster` / `ops streams`), health and readiness. */
export const clusterRoutes = [
  route({
    method: "GET", path: "/api/v1/cluster/members", role: "viewer", tag: "cluster",
    summary: "Members: roles, version, heartbeat age, alive, shards held",
    handle: async ({ deps }) => ({ members: (await deps.clusterView()).members }),
  }),
  route({
    method: "GET", path: "/api/v1/cluster/shards", role: "viewer", tag: "cluster",
    summary: "The shard map: owner, epoch, checkpoint and processed stream positions, pending batches (lag), actors",
    handle: async ({ deps }) => {
      const v = await deps.clusterView()
      return { partitions: v.partitions, unowned: v.unowned, shards: v.shards }
    },
  }),
  route({
    method: "GET", path: "/api/v1/cluster/streams", role: "viewer", tag: "cluster",
    summary: "akis streams and KV buckets as `nats stream report` shows them",
    handle: async ({ deps }) => ({ streams: await deps.streams() }),
  }),
  route({
    method: "GET", path: "/healthz", role: "public", tag: "health",
    summary: "The process is up (no dependency checked)",
    handle: () => ({ ok: true }),
  }),
  route({
    method: "GET", path: "/readyz", role: "public", tag: "health",
    summary: "The node is connected, holds its shards and their lag is bounded (503 with reasons otherwise)",
    handle: async ({ deps, c }) => {
      const r = await deps.ready()
      if (!r.ready) c.header("Retry-After", "2")
      return c.json(r, r.ready ? 200 : 503)
    },
  }),
  route({
    method: "GET", path: "/metrics", role: "public", tag: "health", produces: "text/plain",
    summary: "Prometheus metrics of this node (text exposition format)",
    handle: async ({ deps, c }) => {
      if (!deps.metrics) return c.text("", 404)
      const m = await deps.metrics()
      return c.body(m.body, 200, { "content-type": m.contentType })
    },
  }),
  route({
    method: "GET", path: "/api/v1/ping", role: "public", tag: "health",
    summary: "A static answer: the HTTP layer's ceiling in `ops bench api`",
    handle: ({ c }) => c.json({ pong: true }),
  }),
]
