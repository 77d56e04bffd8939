import { makeDeviceKind, RuleSetHolder, type DeviceKind } from "../../actors/index.ts"
import type { DeviceSchema } from "../../config/device-schema.ts"
import { defaultRuleLimits, defaultRulesPath, formatIssue, loadRulesFile, RulesRejected, type RuleLimits } from "../../config/rules/index.ts"
import { openRulesKv, watchRules, type RulesWatch } from "./rules-store.ts"
import type { TopologyOptions } from "../../runtime/nats/topology.ts"
import type { Connection } from "../../runtime/nats/client.ts"

/** A node's device actor kind, kept on the rule set stored in KV `akis_rules`. */
export interface DeviceRules {
  readonly kind: DeviceKind
  readonly holder: RuleSetHolder
  readonly watch: RulesWatch
  stop(): Promise<void>
}

/**
 * Wires a node's rule evaluation: compiles the start-up rules file (`rules.file` in config, empty =
 * the built-in bus pack; an invalid file refuses to start with its issues), builds the device kind
 * on a shared {@link RuleSetHolder}, then follows KV `akis_rules` so every applied version is
 * swapped in (invalid versions are logged and counted; the running set stays).
 *
 * @example
 * const rules = await startDeviceRules(nc, loadDeviceSchema(), cfg.rules.file, log)
 * const node = await startNode(settings, { kind: rules.kind as ActorKind<unknown>, clock, log })
 */
export const startDeviceRules = async (
  nc: Connection,
  schema: DeviceSchema,
  file: string,
  log: (event: string, fields: Record<string, unknown>) => void,
  topology: TopologyOptions,
  limits: RuleLimits = defaultRuleLimits,
): Promise<DeviceRules> => {
  const path = file || defaultRulesPath
  const initial = loadRulesFile(path, schema, limits)
  if (!initial.ok) throw new RulesRejected({ issues: initial.issues })
  const holder = new RuleSetHolder(initial.plan, 0)
  const kind = makeDeviceKind(schema, holder)
  log("rules_loaded", { file: path, rules: initial.plan.rules.length, checksum: initial.plan.checksum })
  const watch = await watchRules(
    await openRulesKv(nc, topology),
    schema,
    (plan, rec) => {
      holder.swap(plan, rec.version)
      log("rules_applied", { version: rec.version, checksum: rec.checksum, origin: rec.origin, rules: plan.rules.length })
    },
    (reason, issues) => log("rules_invalid", { reason, issues: issues.map(formatIssue) }),
    limits,
  )
  return { kind, holder, watch, stop: () => watch.stop() }
}
