import { systemClock } from "../../runtime/clock.ts"
import type { Connection } from "../../runtime/nats/client.ts"
import { startNotifier, type Notifier, type RuleFacts } from "../../actors/notifier/index.ts"
import { makeOllamaModel, startInterpreter, type ContextSources, type Interpreter } from "../../actors/interpreter/index.ts"
import { topologyOptions } from "../../runtime/nats/topology.ts"
import { natsPorts } from "../../runtime/nats/nats-ports.ts"
import { alerts, ensureAlertsStream, makeStore, type Store } from "../../actors/sink/index.ts"
import { askActor } from "../../runtime/index.ts"
import type { AkisConfig } from "../../config/schema.ts"
import type { CompiledRuleSet } from "../../actors/device/index.ts"

/** What a rule set says about a rule for a device: its throttle and the device's groups. */
export const ruleFactsOf = (current: () => CompiledRuleSet) => (rule: string, device: string): RuleFacts | undefined => {
  const set = current()
  const r = set.rules.find((x) => x.name === rule)
  return r ? { throttleMs: r.throttleMs, groups: set.bind(device).groups } : undefined
}

/** The interpreter's context: rule descriptions, the device actor's windows (RPC router), recent alerts (ClickHouse). */
export const contextSources = (nc: Connection, partitions: number, store: Store, rules: () => CompiledRuleSet, historyMinutes: number): ContextSources => ({
  description: (rule) => rules().rules.find((r) => r.name === rule)?.spec.description ?? "",
  async windows(device) {
    const r = await askActor<{ windows?: Record<string, Record<string, number | null>> }>(nc, partitions, "device", device, {}, { timeoutMs: 2_000, attemptMs: 1_000 })
    return r.windows
  },
  async history(device, at) {
    const rows = await alerts(store, { device, from: at - historyMinutes * 60_000, to: at, limit: 200 })
    const raised = rows.filter((r) => r.kind !== "cleared")
    if (raised.length === 0) return [`no other alerts on ${device} in the ${historyMinutes} minutes before`]
    const by = new Map<string, number>()
    for (const r of raised) by.set(`${r.rule} (${r.severity})`, (by.get(`${r.rule} (${r.severity})`) ?? 0) + 1)
    return [`${raised.length} alert transitions on ${device} in the ${historyMinutes} minutes before: ${[...by].map(([k, n]) => `${k} ×${n}`).join(", ")}`]
  },
})

/** The `notifier` role of a node: alert delivery and the interpreter, logging their counters every 30 s. */
export const startNotifierRole = async (
  nc: Connection,
  config: AkisConfig,
  nodeId: string,
  rules: () => CompiledRuleSet,
  log: (event: string, fields: Record<string, unknown>) => void,
  /** The node's ClickHouse store when it has one (a worker): embedded chDB allows one per process. */
  sharedStore?: Store | undefined,
): Promise<{ notifier: Notifier; interpreter: Interpreter | undefined; stop(): Promise<void> }> => {
  const topology = topologyOptions(config)
  const nats = await natsPorts(nc)
  await ensureAlertsStream(nats.setup, topology)
  const notifier = await startNotifier({
    nats, config: config.notify, nodeId, heartbeatMs: config.node.heartbeatMs, suspicionMs: config.node.suspicionMs,
    topology, facts: ruleFactsOf(rules), log,
    maxThrottleMs: () => Math.max(0, ...rules().rules.map((r) => r.throttleMs)),
  })
  log("notify.started", { channels: Object.keys(config.notify.channels), consumer: config.notify.consumer })
  const ic = config.interpreter
  const store = ic.enabled ? sharedStore ?? makeStore(config.clickhouse) : undefined
  const interpreter = store
    ? await startInterpreter({
      nats, config: ic, log,
      model: makeOllamaModel({ host: ic.host, model: ic.model, api: ic.api, stream: ic.stream, timeoutMs: ic.timeoutMs }),
      context: contextSources(nc, config.cluster.partitions, store, rules, ic.historyMinutes),
    })
    : undefined
  if (interpreter) log("interpreter.started", { host: ic.host, model: ic.model, consumer: ic.consumer })
  const stopMetricsLog = systemClock.every(30_000, () => {
    log("notify.metrics", { active: notifier.active, ...notifier.metrics })
    if (interpreter) log("interpreter.metrics", { ...interpreter.metrics })
  })
  return {
    notifier,
    interpreter,
    async stop() {
      stopMetricsLog()
      await interpreter?.stop()
      await notifier.stop()
      if (store !== sharedStore) await store?.close().catch(() => {})
    },
  }
}
