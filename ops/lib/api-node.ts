import { systemClock } from "../../runtime/clock.ts"
import { alerts as storedAlerts, fleetAggregate, parseTransition, quoteString, readings, tables, type AlertWriter, type SinkGroup, type Store } from "../../actors/sink/index.ts"
import type { DeviceSchema } from "../../config/device-schema.ts"
import { formatIssue, ruleLimitsOf, RulesRejected } from "../../config/rules/index.ts"
import { compileRules } from "../../config/rules/load.ts"
import { applyRules, currentRules, openRulesKv, rollbackRules, rulesHistory } from "./rules-store.ts"
import type { AkisConfig } from "../../config/schema.ts"
import type { Gateway } from "../../gateway/index.ts"
import {
  allRoutes, ApiProblem, remoteJwtVerifier, kvAuditLog, kvTokenStore, makeApp, makeNodeMetrics, unavailable, type ApiDeps, type DeviceRow, type NodeMetrics,
} from "../../gateway/http/index.ts"
import { askActor, names, placeShards, shardOf, type AkisNode, type AlertTransition, type Nats } from "../../runtime/index.ts"
import type { TopologyOptions } from "../../runtime/nats/topology.ts"
import { isClosed, linkUp, openTopologyKv, requesterOf } from "../../runtime/nats/client.ts"
import { contextOn } from "./context.ts"
import { AlertTransitionMessage, isWireDecodeError, LeaseRecord, logFirstOfEach, MemberRecord } from "../../runtime/wire.ts"
import { clusterView } from "./cluster-view.ts"
import type { DeviceRules } from "./device-rules.ts"
import { liveFleetFeed } from "./live-fleet-feed.ts"
import { serveDashboard } from "../../gateway/ui/index.ts"

/** What a node has running that the API and /metrics read. */
export interface ApiNodeParts {
  readonly config: AkisConfig
  readonly nats: Nats
  readonly schema: DeviceSchema
  /** ClickHouse store for history (the worker's, or one of the API's own). */
  readonly store: Store
  readonly node?: AkisNode | undefined
  readonly gateway?: Gateway | undefined
  readonly group?: SinkGroup | undefined
  readonly alertWriter?: AlertWriter | undefined
  readonly rules?: DeviceRules | undefined
  /** Stream and bucket settings (runtime/nats/topology.ts): the API's buckets are rows of that table. */
  readonly topology: TopologyOptions
  /** Rows refused by fenced sinks, summed over this node's sinks. */
  readonly fencedRows?: () => number
  readonly log: (event: string, fields?: Record<string, unknown>) => void
}

/** A running API listener. */
export interface ApiNode {
  readonly port: number
  readonly metrics: NodeMetrics
  stop(): Promise<void>
}


type Dependency = "NATS" | "ClickHouse"

/** The 503 for a dependency this node knows it is not connected to. */
const notConnected = (what: Dependency) => unavailable(what, "not connected; retry later")

/**
 * Returns `guarded(what, f)`: runs `f`; a failure that is not already an answer becomes a 503
 * naming only the dependency `what` (the error itself goes to `log`). While `down(what)` says the
 * dependency is not connected, the 503 comes at once instead of after `f`'s timeout.
 */
const makeGuarded = (log: (what: Dependency, e: unknown) => void, down: (what: Dependency) => boolean) => async <T>(what: Dependency, f: () => Promise<T>): Promise<T> => {
  if (down(what)) throw notConnected(what)
  try {
    return await f()
  } catch (e) {
    const tag = (e as { _tag?: string } | null)?._tag
    if (e instanceof ApiProblem || tag === "HistoryInputInvalid" || tag === "ActorNotFound" || tag === "ActorUnavailable") throw e
    log(what, e)
    throw unavailable(what, "retry later")
  }
}

/** ClickHouse time as epoch ms of a row's `at` + `at_ms`. */
const rowToTransition = (r: Record<string, unknown>): AlertTransition => ({
  id: String(r.id), alertId: String(r.alert_id), device: String(r.device_id), rule: String(r.rule), kind: r.kind as AlertTransition["kind"],
  severity: r.severity as AlertTransition["severity"], at: Number(r.at_epoch), seq: Number(r.seq), message: String(r.message),
  values: JSON.parse(String(r.values_json)) as Record<string, number>, channels: r.channels as string[], ruleVersion: Number(r.rule_version), recvAt: Number(r.recv_at),
})

/**
 * Starts the HTTP listener of a node on `api.port`: the whole API when the node has the `api`
 * role (then `nats` must be a connection with the api role's credentials), else only /metrics,
 * /healthz and /readyz. Wires the API's dependencies to NATS
 * (live state through the owning actor, KV buckets, the alert subjects) and ClickHouse.
 */
export const startApiNode = async (p: ApiNodeParts): Promise<ApiNode> => {
  const { config, nats, store, schema } = p
  const clock = systemClock
  const natsUp = linkUp(nats.nc)
  const guarded = makeGuarded((what, e) => p.log("api.unavailable", { what, error: String(e) }), (what) => what === "NATS" && !natsUp())
  const isApi = config.node.roles.includes("api")
  const P = config.cluster.partitions
  const nodeId = p.node?.id ?? config.node.id
  // Messages from other processes that did not decode: counted by message name, the first of each logged.
  const malformed: Record<string, number> = {}
  const logDropped = logFirstOfEach((message, reason) => p.log("wire.malformed", { message, reason }))
  const dropped = (message: string, reason: string) => {
    malformed[message] = (malformed[message] ?? 0) + 1
    logDropped(message, reason)
  }
  const metrics = makeNodeMetrics({
    gateway: () => p.gateway?.metrics,
    hosts: p.node
      ? async () => Promise.all([...p.node!.hosts().values()].map(async (h) => {
        const st = await h.stats()
        return { shard: h.shard, key: h, counters: h.metrics, pendingBatches: st.pendingBatches, actors: st.actors + st.passivated, sinkPending: st.sinkPending, checkpointBytes: h.metrics.checkpointBytes }
      }))
      : undefined,
    sink: () => p.group?.metrics,
    alertWriter: () => p.alertWriter?.metrics,
    device: () => (p.rules ? (p.rules.kind.metrics as unknown as Record<string, number>) : undefined),
    rules: () => p.rules?.watch.metrics,
    fencedRows: p.fencedRows,
    wireMalformed: () => (p.node ? { ...malformed, [MemberRecord.name]: p.node.membership.malformed } : malformed),
    heartbeatsWithheld: () => p.node?.membership.heartbeatsWithheld(),
  }, nodeId || "node")

  // One subscription per node feeds every SSE client and the reading→alert histogram.
  const listeners = new Set<(t: AlertTransition) => void>()
  // Only the api role may subscribe to the alert subjects; without it there is no SSE and no alert histogram.
  const opsCtx = contextOn(config, nats)
  const alertSub = !isApi ? undefined : opsCtx.bus.subscribe("akis.alerts.>", (m) => {
    const t = parseTransition(m.data, (reason) => dropped(AlertTransitionMessage.name, reason))
    if (!t) return
    metrics.alertLatency.observe(Math.max(0, clock.now() - t.at) / 1000)
    for (const fn of listeners) fn(t)
  })

  const limits = ruleLimitsOf(config)
  const [tokenKv, auditKv, rulesKv] = isApi
    ? await Promise.all([openTopologyKv(nats.nc, names.tokens, p.topology), openTopologyKv(nats.nc, names.audit, p.topology), openRulesKv(nats.nc, p.topology)])
    : [undefined, undefined, undefined]
  const tokens = tokenKv ? await kvTokenStore(tokenKv, (e) => dropped(e.wire, e.message)) : { get: () => undefined, list: () => [], put: async () => {}, close: async () => {} }
  const audit = auditKv ? kvAuditLog(auditKv, (e) => dropped(e.wire, e.message)) : undefined
  // Opened once (a failed open is retried on the next request).
  const shardsBucket = () => opsCtx.bucket("akis_shards")
  const live = liveFleetFeed(opsCtx.bus, { width: schema.fields.length })

  const deps: ApiDeps = {
    clock,
    schema,
    rateLimit: { perSec: config.api.rateLimitPerSec, burst: config.api.rateBurst },
    tokens,
    audit: audit ?? (undefined as never),
    verifyJwt: config.api.jwksUrl ? remoteJwtVerifier(config.api.jwksUrl, config.api.jwtIssuer, config.api.jwtAudience, config.api.jwtRoleClaim) : undefined,
    // Shards this node serves are answered in-process; the others over NATS by their owner.
    liveState: async (id) => {
      const local = (s: number) => p.node?.hosts().get(s)?.queries
      // Another node's shard is asked over NATS: not connected, that is a 503 now, not after the timeout.
      if (!local(shardOf(id, P)) && !natsUp()) throw notConnected("NATS")
      return askActor(requesterOf(opsCtx.bus), P, "device", id, {}, { local, timeoutMs: config.api.liveStateTimeoutMs, attemptMs: Math.min(1_000, config.api.liveStateTimeoutMs) })
    },
    devices: (limit) => guarded("ClickHouse", async () => {
      const [seen, open, owners] = await Promise.all([
        store.query<{ device_id: string; last: number }>(`SELECT device_id, toUInt64(max(minute)) * 1000 AS last FROM ${tables.rollup} GROUP BY device_id ORDER BY device_id LIMIT ${Math.floor(limit)}`),
        store.query<{ device_id: string; open: number }>(
          `SELECT device_id, countIf(k != 'cleared') AS open FROM (SELECT device_id, alert_id, argMax(kind, toUInt64(at) * 1000 + at_ms) AS k FROM ${tables.alerts} GROUP BY device_id, alert_id) GROUP BY device_id`),
        guarded("NATS", async () => {
          const kv = await shardsBucket()
          const m = new Map<number, string>()
          for (const k of (await kv.keys()).filter((x) => /^shard\.[^.]+$/.test(x))) {
            const e = await kv.get(k)
            if (e?.operation !== "PUT") continue
            try {
              m.set(Number(k.slice(6)), LeaseRecord.fromJson(e.value).owner)
            } catch (err) {
              if (!isWireDecodeError(err)) throw err
              dropped(err.wire, err.message) // no owner shown for that shard
            }
          }
          return m
        }),
      ])
      const openBy = new Map(open.map((r) => [r.device_id, Number(r.open)]))
      const set = p.rules?.holder.current
      return seen.map((r): DeviceRow => {
        const shard = shardOf(r.device_id, P)
        return {
          id: r.device_id, groups: set ? set.bind(r.device_id).groups : [], shard, owner: owners.get(shard) ?? null,
          lastSeen: Number(r.last) || null, openAlerts: openBy.get(r.device_id) ?? 0,
        }
      })
    }),
    readings: (q) => guarded("ClickHouse", () => readings(store, schema, q)),
    fleet: (q) => guarded("ClickHouse", () => fleetAggregate(store, schema, q)),
    alerts: (q) => guarded("ClickHouse", () => storedAlerts(store, q)),
    alertTransitions: (alertId) => guarded("ClickHouse", async () => (await store.query<Record<string, unknown>>(
      `SELECT id, alert_id, device_id, rule, kind, severity, toUInt64(at) * 1000 + at_ms AS at_epoch, seq, message, values_json, channels, rule_version, recv_at ` +
        `FROM ${tables.alerts} WHERE alert_id = ${quoteString(alertId)} ORDER BY at_epoch, id LIMIT 1 BY id LIMIT 10000`)).map(rowToTransition)),
    rulesCurrent: () => guarded("NATS", () => currentRules(rulesKv!)),
    rulesHistory: () => guarded("NATS", () => rulesHistory(rulesKv!)),
    rulesValidate: (source, origin) => {
      const r = compileRules(source, origin, schema, limits)
      return r.ok ? { ok: true, rules: r.plan.rules.length, windows: r.plan.windows.length, checksum: r.plan.checksum } : { ok: false, issues: r.issues.map(formatIssue) }
    },
    rulesApply: (source, origin) => guarded("NATS", async () => {
      try {
        return await applyRules(rulesKv!, source, origin, schema, clock.now(), limits)
      } catch (e) {
        if (e instanceof RulesRejected) throw new ApiProblem({ status: 400, code: "rules_rejected", message: `${e.issues.length} problem(s) in ${origin}`, parameter: "body", issues: e.issues.map(formatIssue) })
        throw e
      }
    }),
    rulesRollback: (version) => guarded("NATS", async () => {
      try {
        return await rollbackRules(rulesKv!, version, schema, clock.now(), limits)
      } catch (e) {
        if (e instanceof RulesRejected) throw new ApiProblem({ status: 400, code: "rules_rejected", message: `v${version} no longer compiles`, parameter: "version", issues: e.issues.map(formatIssue) })
        throw e
      }
    }),
    clusterView: () => guarded("NATS", () => clusterView(opsCtx)),
    streams: () => guarded("NATS", async () => (await opsCtx.inspect.streams())
      .filter((si) => /^(AKIS_|KV_akis_|OBJ_akis_)/.test(si.stream))
      .map((si) => ({
        stream: si.stream, subjects: [...si.subjects], consumers: si.consumers, messages: si.messages, bytes: si.bytes,
        firstSeq: si.firstSeq, lastSeq: si.lastSeq, replicas: si.replicas, leader: si.leader,
      }))
      .sort((a, b) => a.stream.localeCompare(b.stream))),
    storedRows: () => guarded("ClickHouse", async () => Number((await store.query<{ n: number }>(`SELECT count() AS n FROM ${tables.telemetry}`))[0]?.n ?? 0)),
    fleetLive: (fields) => live.snapshot(fields),
    subscribeAlerts: (fn) => {
      listeners.add(fn)
      return () => void listeners.delete(fn)
    },
    ready: async () => {
      const reasons: string[] = []
      if (isClosed(nats.nc)) reasons.push("NATS connection closed")
      else if (!natsUp()) reasons.push("NATS not connected (reconnecting)")
      if (config.node.roles.includes("worker")) {
        if (!p.node) reasons.push("worker not started")
        else {
          if (!p.node.membership.healthy()) reasons.push("heartbeats failing (self-fenced)")
          // Holds its shards: every shard placement gives this node is hosted here.
          const held = new Set(p.node.hosted())
          const missing = placeShards(p.node.membership.workers(), P).flatMap((owner, s) => (owner === p.node!.id && !held.has(s) ? [s] : []))
          if (missing.length) reasons.push(`does not hold shards ${missing.join(",")} yet`)
          const stats = await Promise.all([...p.node.hosts().values()].map((h) => h.stats()))
          for (const s of stats) if ((s.pendingBatches ?? 0) > config.api.readyMaxLagBatches) reasons.push(`shard ${s.shard} lags ${s.pendingBatches} batches`)
        }
      }
      return { ready: reasons.length === 0, reasons, node: nodeId, shards: p.node?.hosted().length ?? 0 }
    },
    metrics: () => metrics.text(),
    observe: (route, method, status, seconds) => {
      metrics.httpRequests.inc({ route, method, status: String(status) })
      metrics.httpDuration.observe({ route, method }, seconds)
    },
  }
  const routes = isApi ? allRoutes : allRoutes.filter((r) => ["/metrics", "/healthz", "/readyz"].includes(r.path))
  const app = makeApp(deps, { routes, onInternalError: (e, route) => p.log("api.error", { route, error: String(e) }) })
  if (isApi) await serveDashboard(app, p.log)
  let server: ReturnType<typeof Bun.serve> | undefined
  try {
    server = Bun.serve({ hostname: config.api.host, port: config.api.port, fetch: app.fetch, idleTimeout: 60 })
  } catch (e) {
    // Without the api role the listener only serves /metrics: a port already taken (several nodes
    // on one machine with the default port) must not stop a worker or a gateway.
    if (isApi) throw e
    p.log("metrics.not_listening", { host: config.api.host, port: config.api.port, error: String(e) })
  }
  if (server) p.log("api.listening", { host: config.api.host, port: server.port, api: isApi })
  return {
    port: server?.port ?? 0,
    metrics,
    async stop() {
      alertSub?.unsubscribe()
      live.stop()
      await server?.stop(true)
      await tokens.close()
    },
  }
}
