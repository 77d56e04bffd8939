import type { CompiledRuleSet } from "../../config/rules/index.ts"

/**
 * The rule set every device actor of a node evaluates, shared by reference. A reload calls
 * {@link RuleSetHolder.swap}; each actor notices the new `version` on its next reading or tick
 * and migrates its own state before evaluating, so the swap is atomic between two readings of a
 * device and costs nothing for devices that stay idle.
 */
export class RuleSetHolder {
  constructor(private set: CompiledRuleSet, private ver: number) {}
  /** The active compiled set. */
  get current(): CompiledRuleSet { return this.set }
  /** Version of the active set (the KV `akis_rules` version, or 0 for a file loaded at start). */
  get version(): number { return this.ver }
  /** Installs a new set; it must be compiled for the same device schema width. */
  swap(set: CompiledRuleSet, version: number): void {
    this.set = set
    this.ver = version
  }
}
