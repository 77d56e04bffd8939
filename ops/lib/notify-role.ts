import type { NatsConnection } from "@nats-io/transport-node"
import { startNotifier, type Notifier, type RuleFacts } from "../../actors/notifier/index.ts"
import { ensureAlertsStream } from "../../actors/sink/index.ts"
import type { AkisConfig } from "../../config/schema.ts"
import type { CompiledRuleSet } from "../../config/rules/index.ts"

/** What a rule set says about a rule for a device: its throttle and the device's groups. */
export const ruleFactsOf = (current: () => CompiledRuleSet) => (rule: string, device: string): RuleFacts | undefined => {
  const set = current()
  const r = set.rules.find((x) => x.name === rule)
  return r ? { throttleMs: r.throttleMs, groups: set.bind(device).groups } : undefined
}

/** The `notifier` role of a node: alert delivery, logging its counters every 30 s. */
export const startNotifierRole = async (
  nc: NatsConnection,
  config: AkisConfig,
  nodeId: string,
  rules: () => CompiledRuleSet,
  log: (event: string, fields: Record<string, unknown>) => void,
): Promise<{ notifier: Notifier; stop(): Promise<void> }> => {
  await ensureAlertsStream(nc, config.streams.alertsMaxAgeHours, config.streams.replicas)
  const notifier = await startNotifier({
    nc, config: config.notify, nodeId, heartbeatMs: config.node.heartbeatMs, suspicionMs: config.node.suspicionMs,
    replicas: config.streams.replicas, facts: ruleFactsOf(rules), log,
  })
  log("notify.started", { channels: Object.keys(config.notify.channels), consumer: config.notify.consumer })
  const timer = setInterval(() => log("notify.metrics", { active: notifier.active, ...notifier.metrics }), 30_000)
  return {
    notifier,
    async stop() {
      clearInterval(timer)
      await notifier.stop()
    },
  }
}
