import { Schema } from "effect"

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const Millis = Schema.Int.check(Schema.isGreaterThanOrEqualTo(10))

/** Cluster-wide constants; `partitions` must be the same on every node (checked against KV `akis_config`). */
export const ClusterSection = Schema.Struct({
  name: Schema.NonEmptyString,
  partitions: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4096 })),
})

/** What this process is and how it takes part in membership, leases and checkpoints. */
export const NodeSection = Schema.Struct({
  id: Schema.String,
  roles: Schema.Array(Schema.Literals(["worker", "gateway", "api"])),
  heartbeatMs: Millis,
  suspicionMs: Millis,
  checkpointMs: Millis,
  actorIdleMs: Millis,
  dataDir: Schema.NonEmptyString,
})

/** How to reach NATS; several servers for a cluster. */
export const NatsSection = Schema.Struct({
  servers: Schema.Array(Schema.NonEmptyString).check(Schema.isMinLength(1)),
  user: Schema.String,
  pass: Schema.String,
})

/** JetStream stream limits. */
export const StreamsSection = Schema.Struct({
  telemetryMaxAgeHours: PositiveInt,
  alertsMaxAgeHours: PositiveInt,
  replicas: Schema.Literals([1, 3, 5]),
})

/** Rule evaluation: the rule file a node starts with when KV akis_rules is empty, and the timer tick. */
export const RulesSection = Schema.Struct({
  /** Rules file; empty = the built-in bus pack (config/default.rules.yaml). */
  file: Schema.String,
  /** How often device actors get onTick (absence, stuck sensors, timed escalation). */
  tickMs: Millis,
})

/** The whole akis configuration. Sections of other parts (gateway, sink, rules, api) are added here. */
export const AkisConfig = Schema.Struct({
  cluster: ClusterSection,
  node: NodeSection,
  nats: NatsSection,
  streams: StreamsSection,
  rules: RulesSection,
})
export type AkisConfig = typeof AkisConfig.Type
