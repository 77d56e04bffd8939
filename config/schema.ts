import { Schema } from "effect"
import { InterpreterSection, NotifySection } from "./notify-schema.ts"

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
  roles: Schema.Array(Schema.Literals(["worker", "gateway", "api", "notifier"])),
  heartbeatMs: Millis,
  suspicionMs: Millis,
  /** Heartbeats (written from a thread) stop once this process's event loop has not turned for this long. */
  watchdogMs: Millis,
  checkpointMs: Millis,
  checkpointBytesPerSec: PositiveInt,
  actorIdleMs: Millis,
  dataDir: Schema.NonEmptyString,
})

/** How to reach NATS; several servers for a cluster. */
export const NatsSection = Schema.Struct({
  servers: Schema.Array(Schema.NonEmptyString).check(Schema.isMinLength(1)),
  user: Schema.String,
  pass: Schema.String,
  /** Directory written by `ops nats-auth init`: each process loads `<dir>/<role>.nk` (docs/security.md). */
  credsDir: Schema.String,
  /** One credentials file for this process (an nkey seed or a `.creds` JWT file); overrides credsDir. */
  credsFile: Schema.String,
  /** Reply subject prefix; `auto` = `_INBOX_<role>` (each role reads only its own replies). */
  inboxPrefix: Schema.NonEmptyString,
  /** TLS to NATS: all empty = plain TCP (fine on loopback). */
  tls: Schema.Struct({ caFile: Schema.String, certFile: Schema.String, keyFile: Schema.String }),
})

/** JetStream stream limits. */
export const StreamsSection = Schema.Struct({
  telemetryMaxAgeHours: PositiveInt,
  alertsMaxAgeHours: PositiveInt,
  /** Byte limits (MiB): when reached the oldest messages go, as with the age limit. */
  telemetryMaxMB: PositiveInt,
  alertsMaxMB: PositiveInt,
  replicas: Schema.Literals([1, 3, 5]),
})

/** How to reach ClickHouse (HTTP interface) and how long history is kept. */
export const ClickHouseSection = Schema.Struct({
  /** `chdb:<dir>` selects the embedded store instead of the HTTP server. */
  url: Schema.NonEmptyString,
  database: Schema.NonEmptyString,
  user: Schema.String,
  password: Schema.String,
  requestTimeoutMs: Millis,
  /** Days of telemetry kept (0 = forever); older day partitions are dropped. */
  retentionDays: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  /** How often the node holding shard 0 drops partitions past retentionDays. */
  retentionCheckMs: Millis,
  /** How often the node holding shard 0 rolls newly ingested telemetry into the 1-minute rollup. */
  rollupEveryMs: Millis,
  /** Seconds each rollup run looks back before the previous one (inserts that land late). */
  rollupOverlapS: PositiveInt,
  /** Days the first rollup run (new or migrated tables) computes; older days are read raw. */
  rollupBackfillDays: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
}).check(
  // Each insert attempt stamps `ingested` when it starts; its rows become visible when it ends,
  // at most requestTimeoutMs later. A look-back shorter than that could skip them for good.
  Schema.makeFilter((c) =>
    c.rollupOverlapS * 1000 >= c.requestTimeoutMs + 10_000
      ? undefined
      : { path: ["rollupOverlapS"], issue: `must cover one insert attempt: at least requestTimeoutMs + 10 s (${Math.ceil((c.requestTimeoutMs + 10_000) / 1000)} s)` }
  ),
)

/** The per-shard ClickHouse sink: batching, retry and memory bounds. */
export const SinkSection = Schema.Struct({
  batchRows: PositiveInt,
  flushMs: Millis,
  maxInflight: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 16 })),
  maxPendingRows: PositiveInt,
  retryMinMs: Millis,
  retryMaxMs: Millis,
  alertsConsumer: Schema.NonEmptyString,
})

/**
 * Device ingress (gateway/): the mTLS listener, frame limits and batching towards JetStream.
 * TLS paths default to the layout of `ops certs` under `certDir`; an empty path means "use certDir".
 */
export const GatewaySection = Schema.Struct({
  host: Schema.NonEmptyString,
  port: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 })),
  certDir: Schema.NonEmptyString,
  caFile: Schema.String,
  certFile: Schema.String,
  keyFile: Schema.String,
  crlFile: Schema.String,
  deviceSchema: Schema.String,
  maxFrameBytes: Schema.Int.check(Schema.isBetween({ minimum: 256, maximum: 8_388_608 })),
  idleTimeoutMs: Millis,
  maxReadingsPerSec: PositiveInt,
  maxErrors: PositiveInt,
  maxFutureSkewMs: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  maxPastSkewMs: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  flushMs: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })),
  flushBytes: Schema.Int.check(Schema.isBetween({ minimum: 1024, maximum: 1_048_576 })),
  maxInFlight: PositiveInt,
  publishTimeoutMs: Millis,
  maxBufferedReadings: PositiveInt,
  crlReloadMs: Millis,
  /** Re-issue the CRL when its next update is fewer days away (only where `<certDir>/ca/ca.key` exists); 0 = never. */
  crlRenewDays: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 365 })),
  /** Limits against peers that never become devices (gateway/admission.ts). */
  maxConnections: PositiveInt,
  maxHandshakesPerSec: PositiveInt,
  maxHandshakesPerSecPerAddress: PositiveInt,
  /** New devices are refused while a shard is further behind than this many batches (gateway/cluster-lag.ts); 0 = never. */
  admitMaxLagBatches: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  handshakeTimeoutMs: Millis,
  firstFrameTimeoutMs: Millis,
})

/** Rule evaluation: the rule file a node starts with when KV akis_rules is empty, and the timer tick. */
export const RulesSection = Schema.Struct({
  /** Rules file; empty = the built-in bus pack (config/default.rules.yaml). */
  file: Schema.String,
  /** How often device actors get onTick (absence, stuck sensors, timed escalation). */
  tickMs: Millis,
  /** A rule set with more rules is refused (every rule runs on every reading). */
  maxRules: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000 })),
  /** Deepest expression nesting accepted. */
  maxExprDepth: Schema.Int.check(Schema.isBetween({ minimum: 4, maximum: 1_000 })),
  /** Window memory per device (at gateway.maxReadingsPerSec) above which a rule set is refused. */
  maxWindowBytesPerDevice: PositiveInt,
})

/** The HTTP API (nodes with the `api` role; /metrics, /healthz, /readyz on every node). */
export const ApiSection = Schema.Struct({
  host: Schema.NonEmptyString,
  port: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 })),
  rateLimitPerSec: PositiveInt,
  rateBurst: PositiveInt,
  readyMaxLagBatches: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  liveStateTimeoutMs: Millis,
  /** Optional external identity provider: its JWKS URL (empty = API tokens only). */
  jwksUrl: Schema.String,
  jwtIssuer: Schema.String,
  jwtAudience: Schema.String,
  jwtRoleClaim: Schema.NonEmptyString,
})

/** nginx in front of a local cluster (`ops/up`): HTTPS for the API, TCP pass-through for devices. */
export const ProxySection = Schema.Struct({
  httpsPort: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 })),
  devicePort: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 })),
})

/** The whole akis configuration. Sections of other parts (gateway, sink, rules, api) are added here. */
export const AkisConfig = Schema.Struct({
  cluster: ClusterSection,
  node: NodeSection,
  nats: NatsSection,
  streams: StreamsSection,
  clickhouse: ClickHouseSection,
  sink: SinkSection,
  gateway: GatewaySection,
  rules: RulesSection,
  notify: NotifySection,
  interpreter: InterpreterSection,
  api: ApiSection,
  proxy: ProxySection,
})
export type AkisConfig = typeof AkisConfig.Type
