import type { Severity } from "../config/rules/severity.ts"

/**
 * An alert transition: what a device actor emits when a rule's alert opens, changes severity or
 * closes. Published to `akis.alerts.<severity>.<device>` on stream AKIS_ALERTS with `id` as the
 * JetStream msg id, stored in ClickHouse `alerts`, explained by the interpreter.
 */
export interface AlertTransition {
  /** Deterministic id of this transition: `${alertId}:${kind}:${severity}` — the same on replay. */
  readonly id: string
  /** Deterministic id of the alert (one open alert per device and rule): `${device}:${rule}:${openedSeq}`. */
  readonly alertId: string
  readonly device: string
  readonly rule: string
  readonly kind: "raised" | "escalated" | "cleared"
  readonly severity: Severity
  /** Event time of the reading (or tick) that caused the transition, epoch ms. */
  readonly at: number
  /** Device seq of that reading (0 for timer-driven transitions). */
  readonly seq: number
  /** Human-readable summary, e.g. "coolant_temp_c avg 10s = 112.4 > 105". */
  readonly message: string
  /** Values that mattered (field or aggregate name → value). */
  readonly values: Readonly<Record<string, number>>
  /** Notification channels from the rule. */
  readonly channels: ReadonlyArray<string>
  /** Rule set version that produced it. */
  readonly ruleVersion: number
  /** Gateway receive time of the reading's batch (latency measurement), epoch ms. */
  readonly recvAt: number
}

/** Alert severities, lowest first (defined with the rule language). */
export { severities, type Severity } from "../config/rules/severity.ts"

/** Subject an alert transition is published on. Device ids are subject-safe tokens (gateway checks). */
export const alertSubject = (t: Pick<AlertTransition, "severity" | "device">): string => `akis.alerts.${t.severity}.${t.device}`
