/** The gateway's counters, read by tests, benchmarks and (later) the Prometheus exporter. */
export interface GatewayMetrics {
  /** TLS connections that passed the certificate checks. */
  connections_accepted: number
  /** Connections currently open and authorised. */
  connections_open: number
  /** Older connections closed because the same device connected again. */
  connections_replaced: number
  /** Handshakes refused, by reason (no_cert, self_signed, unknown_ca, expired, not_yet_valid, revoked, bad_device_id, ...). */
  tls_refused_by_reason: Record<string, number>
  /** Valid readings taken into a batch. */
  accepted: number
  /** Readings/frames refused with `ERR`, by code. */
  rejected_by_code: Record<string, number>
  /** Readings whose PubAck arrived. */
  durable: number
  /** `ACK` lines sent to devices. */
  acked: number
  /** Batches published and acknowledged by JetStream. */
  published_batches: number
  /** Publish attempts that failed (each is retried with the same message id). */
  publish_errors: number
  /** Times the gateway stopped reading sockets because too much was unacknowledged by JetStream. */
  backpressure_pauses: number
  /** Times a connection was throttled for exceeding its readings/s. */
  rate_limited: number
  /** Connections closed for idling, too many errors, or a full outbound buffer. */
  connections_closed_idle: number
  connections_closed_errors: number
  connections_closed_slow_reader: number
  /** Set by the Prometheus exporter: seconds from a batch's first reading to its PubAck (when its devices get `ACK`). */
  observeAckLatency?: (seconds: number) => void
}

export const newMetrics = (): GatewayMetrics => ({
  connections_accepted: 0, connections_open: 0, connections_replaced: 0, tls_refused_by_reason: {},
  accepted: 0, rejected_by_code: {}, durable: 0, acked: 0, published_batches: 0, publish_errors: 0,
  backpressure_pauses: 0, rate_limited: 0, connections_closed_idle: 0, connections_closed_errors: 0,
  connections_closed_slow_reader: 0,
})

/** Adds one to a counter in a by-key record. */
export const bump = (r: Record<string, number>, key: string): void => {
  r[key] = (r[key] ?? 0) + 1
}
