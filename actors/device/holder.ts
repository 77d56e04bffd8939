import type { RuleSetPlan } from "../../config/rules/index.ts"
import { linkRuleSet, type CompiledRuleSet } from "./engine/index.ts"

/**
 * The rule set every device actor of a node evaluates, shared by reference. A reload calls
 * {@link RuleSetHolder.swap}; each actor notices the new `version` on its next reading or tick
 * and migrates its own state before evaluating, so the swap is atomic between two readings of a
 * device and costs nothing for devices that stay idle.
 */
export class RuleSetHolder {
  private set: CompiledRuleSet
  /** Links `plan` (config/rules compileRules) for the node's device actors. */
  constructor(plan: RuleSetPlan, private ver: number) {
    this.set = linkRuleSet(plan)
  }
  /** The active compiled set. */
  get current(): CompiledRuleSet { return this.set }
  /** Version of the active set (the KV `akis_rules` version, or 0 for a file loaded at start). */
  get version(): number { return this.ver }
  /** Links and installs a new plan; it must be compiled for the same device schema width. */
  swap(plan: RuleSetPlan, version: number): void {
    this.set = linkRuleSet(plan)
    this.ver = version
  }
}
