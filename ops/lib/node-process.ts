/**
 * One akis node from config (`ops node`, `bun run node`). Roles (node.roles):
 * - worker: hosts shards with device actors on the live rule set (KV akis_rules), a ClickHouse
 *   sink per shard (one sink group per node) and the alert writer (AKIS_ALERTS → ClickHouse);
 * - gateway: the mTLS device listener (certificates from `ops certs`);
 * - notifier: alert delivery (one active per cluster) and the Ollama interpreter (ops/lib/notify-role.ts);
 * - api: the HTTP API on `api.port` (ops/lib/api-node.ts). Every node serves /metrics, /healthz, /readyz there.
 * `shutdown` drains it (gateway first, then a planned handoff of every shard); `stopped` settles
 * when the node left by itself (`ops drain`). Prints one JSON event per line.
 */
import { existsSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { makeRetentionJob, makeRollupJob, makeSinkGroup, rollupGraceS, makeStore, migrate, sinkGroupOptions, startAlertWriter, type AlertWriter, type RetentionJob, type RollupJob, type SinkGroup } from "../../actors/sink/index.ts"
import { ConfigInvalid, loadConfig } from "../../config/index.ts"
import { ruleLimitsOf } from "../../config/rules/index.ts"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { startGateway, type Gateway } from "../../gateway/index.ts"
import { connectNats, ensureStreams, startNode, systemClock, type ActorKind, type AkisNode } from "../../runtime/index.ts"
import { watchStalls } from "../../runtime/stall-watch.ts"
import { startGatewayCrlKeeper } from "../certs/crl-keeper.ts"
import { startDeviceRules } from "./device-rules.ts"
import { redact, redactString } from "../../config/redact.ts"
import { natsAuth, type NatsAuth } from "../../runtime/nats/auth.ts"
import { retry } from "../../runtime/retry.ts"
import { topologyOptions } from "../../runtime/nats/topology.ts"
import { natsPorts } from "../../runtime/nats/nats-ports.ts"
import { serveHistory } from "./history-service.ts"
import { natsBus } from "../../runtime/nats/bus.ts"
import { drain, maxPayloadOf } from "../../runtime/nats/client.ts"
import { startNotifierRole } from "./notify-role.ts"
import { startApiNode, type ApiNode } from "./api-node.ts"
import { BadConfig, CommandFailed } from "./cli/errors.ts"
import type { Store } from "../../actors/sink/index.ts"

// Every line goes through redact: URL credentials, passwords and tokens never reach the log.
const log = (event: string, fields: Record<string, unknown> = {}) => console.log(JSON.stringify(redact({ t: Date.now(), event, ...fields })))
const fail = (msg: string): never => {
  throw new CommandFailed({ message: `akis node: ${redactString(msg)}` })
}

/** A running node process: `stopped` settles when the node drained itself, `shutdown` stops everything. */
export interface NodeProcess {
  readonly stopped: Promise<void>
  shutdown(why: string): Promise<void>
}

/** Starts every role of `node.roles`; fails with BadConfig or CommandFailed (message redacted). */
export const startNodeProcess = async (configFile?: string): Promise<NodeProcess> => {
  let cfg: ReturnType<typeof loadConfig>
  try {
    cfg = loadConfig({ file: configFile })
  } catch (e) {
    throw new BadConfig({ message: `akis node: ${redactString(e instanceof ConfigInvalid ? e.message : String(e))}` })
  }
  const config = cfg
  const schema = loadDeviceSchema(config.gateway.deviceSchema || undefined)
  const isWorker = config.node.roles.includes("worker")
  const isGateway = config.node.roles.includes("gateway")
  const isNotifier = config.node.roles.includes("notifier")

  if (isGateway) {
    const dir = config.gateway.certDir
    for (const f of [config.gateway.caFile || join(dir, "ca.crt"), config.gateway.certFile || join(dir, "server.crt")]) {
      if (!existsSync(f)) fail(`gateway role: ${f} is missing; create the fleet PKI with \`bun run ops certs init\` or set gateway.caFile/certFile/keyFile`)
    }
  }

  // A node's processes use the node role's credentials, whatever node.roles says (docs/security.md).
  let auth: NatsAuth
  try {
    auth = natsAuth(config.nats, "node")
  } catch (e) {
    fail((e as Error).message)
  }
  const topology = topologyOptions(config)
  const nats = await connectNats({ servers: config.nats.servers, auth: auth!, name: "akis-node-services" })
    .catch((e) => fail((e as Error).message))
  const ports = await natsPorts(nats.nc)

  let group: SinkGroup | undefined
  let alerts: AlertWriter | undefined
  let retention: RetentionJob | undefined
  let rollup: RollupJob | undefined
  let node: AkisNode | undefined
  let gateway: Gateway | undefined
  let stopCrlKeeper: () => void = () => {}
  let rules: Awaited<ReturnType<typeof startDeviceRules>> | undefined
  let history: ReturnType<typeof serveHistory> | undefined
  let api: ApiNode | undefined
  const sinks: Array<{ metrics: { rowsFenced: number } }> = []
  // A blocked event loop delays every timer and socket: log it. Heartbeats come from a thread and
  // stop only once the loop has not turned for node.watchdogMs (then node.heartbeats_withheld).
  const stopStallWatch = watchStalls(systemClock, { everyMs: 250, thresholdMs: 1_000, onStall: (lateMs) => log("node.stalled", { lateMs }) })
  // Insert durations go to the /metrics histogram (the API starts after the sink group).
  const timed = (inner: Store): Store => ({
    ...inner,
    insert: (t, c, f, b) => {
      const t0 = performance.now()
      return inner.insert(t, c, f, b).finally(() => api?.metrics.insertLatency.observe((performance.now() - t0) / 1000))
    },
  })

  let workerStore: Store | undefined
  if (isWorker) {
    const store = (workerStore = timed(makeStore(config.clickhouse)))
    // ClickHouse may still be starting (or down): retry the migration; the stream holds the data meanwhile.
    const report = await retry(() => migrate(store, schema), {
      clock: systemClock, backoff: { initialMs: 500, maxMs: 5_000, jitter: 0 },
      onRetry: (e, _attempt, retryMs) => log("clickhouse.unavailable", { url: config.clickhouse.url, error: String(e), retryMs }),
    })
    log("clickhouse.ready", { url: config.clickhouse.url, ...report })
    retention = makeRetentionJob(store, {
      retentionDays: config.clickhouse.retentionDays, everyMs: config.clickhouse.retentionCheckMs,
      onDropped: (partitions) => log("retention.dropped", { partitions }), onError: (e) => log("retention.error", { error: String(e) }),
    })
    // The 1-minute rollup, off the insert path: periodic, on the same elected node as retention.
    rollup = makeRollupJob(store, schema, {
      everyMs: config.clickhouse.rollupEveryMs, overlapS: config.clickhouse.rollupOverlapS, backfillDays: config.clickhouse.rollupBackfillDays,
      graceS: rollupGraceS(config.clickhouse.rollupOverlapS), onError: (e) => log("rollup.error", { error: String(e) }),
    })
    group = makeSinkGroup(store, schema, sinkGroupOptions(config.sink, (e, attempt) => log("sink.error", { error: String(e), attempt })))
    alerts = await startAlertWriter({
      nats: ports, store, consumer: config.sink.alertsConsumer, topology,
      retryMinMs: config.sink.retryMinMs, retryMaxMs: config.sink.retryMaxMs, onError: (e) => log("alerts.error", { error: String(e) }),
    }).catch((e) => fail(`alert writer: ${(e as Error).message}`))
    rules = await startDeviceRules(nats.nc, schema, config.rules.file, log, topology, ruleLimitsOf(config)).catch((e) => fail(`rules: ${(e as Error).message}`))
    // History queries over NATS: the only way to read an embedded (chDB) store, which this process holds.
    history = serveHistory(natsBus(nats.nc), store, schema, maxPayloadOf(nats.nc))
  }

  let notify: Awaited<ReturnType<typeof startNotifierRole>> | undefined
  if (isNotifier) {
    rules ??= await startDeviceRules(nats.nc, schema, config.rules.file, log, topology, ruleLimitsOf(config)).catch((e) => fail(`rules: ${(e as Error).message}`))
    const r = rules
    notify = await startNotifierRole(nats.nc, config, config.node.id || `${hostname()}-${process.pid}`, () => r.holder.current, log, workerStore)
      .catch((e) => fail(`notifier: ${(e as Error).message}`))
  }

  // The gateway listens before the node takes shards, so a port in use fails before anything is held.
  if (isGateway) {
    await ensureStreams(nats.jsm, topology, log).catch((e) => fail((e as Error).message))
    gateway = await startGateway(config, { nats: ports, schema, skipEnsureStream: true, log: (line) => log("gateway", { line }) })
      .catch((e) => fail(`gateway on ${config.gateway.host}:${config.gateway.port}: ${(e as Error).message}`))
    log("gateway.listening", { host: config.gateway.host, port: gateway.port })
    stopCrlKeeper = startGatewayCrlKeeper(config.gateway, (line) => log("crl", { line }))
  }

  node = await startNode(
    {
      id: config.node.id, roles: config.node.roles, partitions: config.cluster.partitions, servers: config.nats.servers,
      auth: config.nats, heartbeatMs: config.node.heartbeatMs, suspicionMs: config.node.suspicionMs, watchdogMs: config.node.watchdogMs, ...topology,
      host: { checkpointMs: config.node.checkpointMs, checkpointBytesPerSec: config.node.checkpointBytesPerSec, actorIdleMs: config.node.actorIdleMs, maxPendingRows: config.sink.maxPendingRows, tickMs: config.rules.tickMs },
    },
    {
      kind: (rules?.kind ?? { name: "device", create: () => ({}), onReading() {}, snapshot: () => null, restore: () => ({}), query: () => null }) as ActorKind<unknown>,
      // Shard 0's lease elects the one node that drops expired partitions and runs the rollup (single owner, fenced).
      sinkFor: group ? (s, fence) => {
        if (s === 0) {
          retention?.hold(fence)
          rollup?.hold(fence)
        }
        const sink = group!.sinkFor(s, fence)
        sinks.push(sink)
        return sink
      } : undefined,
      clock: systemClock,
      log,
    },
  ).catch((e) => fail((e as Error).message))

  // The API talks to NATS with the api role's credentials (its own buckets, requests to actors, the alert subjects).
  let apiNats = nats
  if (config.node.roles.includes("api")) {
    let apiAuth: NatsAuth
    try {
      apiAuth = natsAuth(config.nats, "api")
    } catch (e) {
      fail((e as Error).message)
    }
    apiNats = await connectNats({ servers: config.nats.servers, auth: apiAuth!, name: "akis-api" }).catch((e) => fail((e as Error).message))
  }
  api = await startApiNode({
    config, nats: apiNats, schema, store: workerStore ?? makeStore(config.clickhouse), node, gateway, group, alertWriter: alerts, rules, log, topology,
    fencedRows: () => sinks.reduce((n, k) => n + k.metrics.rowsFenced, 0),
  }).catch((e) => fail(`api on ${config.api.host}:${config.api.port}: ${(e as Error).message}`))

  let stopping = false
  const shutdown = async (why: string) => {
    if (stopping) return
    stopping = true
    log("node.shutdown", { why })
    stopStallWatch()
    stopCrlKeeper()
    await gateway?.stop({ drainMs: 2_000 }).catch(() => {})
    await api?.stop().catch(() => {})
    if (apiNats !== nats) await drain(apiNats.nc)
    await node?.drain().catch(() => {})
    retention?.stop()
    rollup?.stop()
    history?.stop()
    await alerts?.stop().catch(() => {})
    await notify?.stop().catch(() => {})
    await rules?.stop().catch(() => {})
    await group?.close().catch(() => {})
    await drain(nats.nc)
  }
  return { stopped: node.stopped, shutdown }
}
