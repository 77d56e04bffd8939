import { Schema } from "effect"

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const Millis = Schema.Int.check(Schema.isGreaterThanOrEqualTo(10))
const Severity = Schema.Literals(["info", "warning", "critical"])
/** Channel names are KV/subject-safe tokens (they end up in keys and dead-letter subjects). */
const ChannelName = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,64}$/))

/** Routing filters every channel has: empty lists mean "every severity" / "every device". */
const routing = {
  /** Only transitions with one of these severities (empty: all). */
  severities: Schema.Array(Severity),
  /** Only devices in one of these rule-pack groups (empty: all devices). */
  groups: Schema.Array(Schema.String),
}

/** HTTP POST of a JSON body, signed with HMAC-SHA256 over `<timestamp>.<body>` (docs/notifications.md). */
export const WebhookChannel = Schema.Struct({
  type: Schema.Literal("webhook"),
  url: Schema.NonEmptyString,
  /** HMAC key; empty = no signature header. */
  secret: Schema.String,
  ...routing,
})

/** E-mail through an SMTP relay (nodemailer). */
export const EmailChannel = Schema.Struct({
  type: Schema.Literal("email"),
  host: Schema.NonEmptyString,
  port: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 })),
  /** TLS from the first byte (port 465); false = STARTTLS when the server offers it. */
  secure: Schema.Boolean,
  user: Schema.String,
  pass: Schema.String,
  from: Schema.NonEmptyString,
  to: Schema.Array(Schema.NonEmptyString).check(Schema.isMinLength(1)),
  ...routing,
})

/**
 * SMS through an HTTP provider shaped like Twilio's Messages API: form POST to
 * `<url>/Accounts/<accountSid>/Messages.json` with basic auth, one request per recipient.
 */
export const SmsChannel = Schema.Struct({
  type: Schema.Literal("sms"),
  url: Schema.NonEmptyString,
  accountSid: Schema.NonEmptyString,
  authToken: Schema.String,
  from: Schema.NonEmptyString,
  to: Schema.Array(Schema.NonEmptyString).check(Schema.isMinLength(1)),
  ...routing,
})

const Cap = Schema.Struct({ max: PositiveInt, windowMs: Millis })

/** Alert delivery (actors/notifier, node role `notifier`): channels, retries, caps, digests. */
export const NotifySection = Schema.Struct({
  consumer: Schema.NonEmptyString,
  bucket: Schema.NonEmptyString,
  maxAttempts: PositiveInt,
  retryMinMs: Millis,
  retryMaxMs: Millis,
  timeoutMs: Millis,
  concurrency: PositiveInt,
  digestWindowMs: Millis,
  digestThreshold: PositiveInt,
  cap: Cap,
  capByRule: Schema.Record(Schema.String, Cap),
  channels: Schema.Record(ChannelName, Schema.Union([WebhookChannel, EmailChannel, SmsChannel])),
})
export type NotifyConfig = typeof NotifySection.Type
export type ChannelConfig = NotifyConfig["channels"][string]

/** Explanations from an Ollama model (actors/interpreter, runs beside the notifier). */
export const InterpreterSection = Schema.Struct({
  enabled: Schema.Boolean,
  consumer: Schema.NonEmptyString,
  host: Schema.NonEmptyString,
  model: Schema.NonEmptyString,
  /** `chat` (/api/chat) or `generate` (/api/generate). */
  api: Schema.Literals(["chat", "generate"]),
  stream: Schema.Boolean,
  timeoutMs: Millis,
  maxConcurrent: PositiveInt,
  /** Alerts fetched but not yet explained; the consumer's max_ack_pending, so the backlog stays bounded. */
  maxBacklog: PositiveInt,
  /** Alerts older than this when their turn comes are skipped (counted), not explained late. */
  maxAgeMs: Millis,
  breakerFailures: PositiveInt,
  breakerCooldownMs: Millis,
  cacheSize: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  historyMinutes: PositiveInt,
})
export type InterpreterConfig = typeof InterpreterSection.Type
