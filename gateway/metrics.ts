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
  /** Hello lines accepted (a device declared its boot: gateway/session.ts). */
  hellos: number
  /** Valid readings taken into a batch. */
  accepted: number
  /** Readings/frames refused with `ERR`, by code. */
  rejected_by_code: Record<string, number>
  /** Readings whose PubAck arrived. */
  durable: number
  /** `ACK` lines sent to devices (fewer than durable readings' batches with coalesced or no ACKs). */
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
  /**
   * Sockets refused at accept (`max_connections`, `cluster_lagging`, `handshake_rate`, `address_handshake_rate`) or
   * closed before becoming an active device (`handshake_timeout`, `first_frame_timeout`).
   */
  connections_refused_by_reason: Record<string, number>
  /** Connections that chose an acknowledgement mode (`each`, `coalesced`, `none`) with an ack line. */
  ack_modes: Record<string, number>
  /** Frames whose decoding threw (a decoder bug); each was answered with its format's `bad_*` ERR. */
  decoder_exceptions: number
  /** Serials in the loaded CRL (gateway/crl.ts). */
  crl_revoked: number
  /** The loaded CRL's next update, epoch ms (0: none loaded or no date). Alert well before it. */
  crl_next_update_ms: number
  /** 1 while the loaded CRL is past its next update (still enforced; the fleet is not locked out). */
  crl_stale: number
  /** CRL files refused while running (unreadable, not signed by the CA, older than the loaded one). */
  crl_reload_errors: number
  /** The most lagging shard's batches still to read, as the nodes last reported it (gateway/cluster-lag.ts); 0 when none is fresh. */
  cluster_lag_batches: number
  /** Set by the Prometheus exporter: seconds from a batch's first reading to its PubAck (when its devices get `ACK`). */
  observeAckLatency?: (seconds: number) => void
}

export const newMetrics = (): GatewayMetrics => ({
  connections_accepted: 0, connections_open: 0, connections_replaced: 0, tls_refused_by_reason: {}, hellos: 0,
  accepted: 0, rejected_by_code: {}, durable: 0, acked: 0, published_batches: 0, publish_errors: 0,
  backpressure_pauses: 0, rate_limited: 0, connections_closed_idle: 0, connections_closed_errors: 0,
  connections_closed_slow_reader: 0, decoder_exceptions: 0, connections_refused_by_reason: {}, ack_modes: {},
  crl_revoked: 0, crl_next_update_ms: 0, crl_stale: 0, crl_reload_errors: 0, cluster_lag_batches: 0,
})

/** Adds one to a counter in a by-key record. */
export const bump = (r: Record<string, number>, key: string): void => {
  r[key] = (r[key] ?? 0) + 1
}
