/** The device actor kind: windows, rules, alert lifecycle, hot rule swap. */
export { makeDeviceKind, type DeviceKind, type DeviceKindOptions } from "./behaviour.ts"
export { RuleSetHolder } from "./holder.ts"
export { linkRuleSet, type CompiledRuleSet } from "./engine/index.ts"
export { makeDeviceMetrics, type DeviceMetrics } from "./metrics.ts"
export type { DeviceQueryResult } from "./query.ts"
export type { DeviceState, DeviceSnapshot, RuleState, OrphanAlert } from "./state.ts"
export { DeviceSnapshotInvalid } from "./errors.ts"
