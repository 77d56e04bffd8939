import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client"
import type { GatewayMetrics } from "../metrics.ts"

/**
 * Prometheus exposition of a node (prom-client). The runtime keeps its counters in plain objects
 * (gateway, shard hosts, sinks, device actors, alert writer, rules watcher); this module reads
 * them at scrape time. Counters are fed by differences against the last scrape per source object,
 * so a shard host that goes away (its shard moved) never makes a `_total` go down.
 */

/** One shard host's view at scrape time. */
export interface HostSample {
  readonly shard: number
  /** The host object (identity keys its counters across scrapes). */
  readonly key: object
  /** The host's counter object (ShardHost.metrics); names not known here are ignored. */
  readonly counters: Readonly<Record<string, number>>
  readonly pendingBatches: number | null
  readonly actors: number
  /** Rows waiting in the shard's sink for ClickHouse. */
  readonly sinkPending?: number
  /** Size of the shard's last checkpoint. */
  readonly checkpointBytes?: number
}

/** Where the numbers come from; any part may be absent (a node without that role). */
export interface MetricSources {
  readonly gateway?: () => GatewayMetrics | undefined
  readonly hosts?: () => Promise<HostSample[]>
  readonly sink?: () => { inserts: number; insertErrors: number; rowsInserted: number; bytesInserted: number } | undefined
  readonly alertWriter?: () => { stored: number; skipped: number; insertErrors: number; deadLettered?: number } | undefined
  readonly device?: () => Record<string, number> | undefined
  readonly rules?: () => { applied: number; invalid: number } | undefined
  /** Fences: sink batches refused because the lease moved (rows). */
  readonly fencedRows?: () => number | undefined
  /** Messages from other processes dropped because they did not decode (runtime/wire.ts), by message name. */
  readonly wireMalformed?: () => Readonly<Record<string, number>> | undefined
  /** Stretches in which the heartbeat thread held heartbeats back for a stalled event loop. */
  readonly heartbeatsWithheld?: () => number | undefined
}

/** The node's registry plus the histograms other parts observe into. */
export interface NodeMetrics {
  readonly registry: Registry
  /** Seconds from a reading's event time to its alert transition reaching this node. */
  readonly alertLatency: Histogram
  /** Seconds from a batch's first reading to its PubAck (the device's ACK). */
  readonly ackLatency: Histogram
  /** Seconds per ClickHouse insert. */
  readonly insertLatency: Histogram
  readonly httpRequests: Counter<"route" | "method" | "status">
  readonly httpDuration: Histogram<"route" | "method">
  text(): Promise<{ contentType: string; body: string }>
}

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Builds the registry for one node over `sources`. */
export const makeNodeMetrics = (sources: MetricSources, node: string): NodeMetrics => {
  const registry = new Registry()
  registry.setDefaultLabels({ node })
  collectDefaultMetrics({ register: registry, prefix: "akis_process_" })
  const last = new WeakMap<object, Map<string, number>>()
  /** Adds what `value` grew since the last scrape of (`key`, `id`). */
  const feed = (c: Counter<string>, key: object, id: string, value: number, labels?: Record<string, string>) => {
    let m = last.get(key)
    if (!m) last.set(key, (m = new Map()))
    const prev = m.get(id) ?? 0
    if (value > prev) labels ? c.inc(labels, value - prev) : c.inc(value - prev)
    m.set(id, value)
  }
  const counter = <L extends string = never>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] })
  const gauge = <L extends string = never>(name: string, help: string, labelNames: L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] })

  // --- Gateway (device ingress) ---
  const gw = {
    accepted: counter("akis_gateway_readings_accepted_total", "Valid readings taken into a batch"),
    rejected: counter("akis_gateway_readings_rejected_total", "Readings or frames refused with ERR, by code", ["code"]),
    tls: counter("akis_gateway_tls_refused_total", "TLS handshakes refused, by reason", ["reason"]),
    durable: counter("akis_gateway_readings_durable_total", "Readings whose JetStream PubAck arrived"),
    acks: counter("akis_gateway_acks_total", "ACK lines sent to devices"),
    batches: counter("akis_gateway_batches_published_total", "Reading batches published and acknowledged by JetStream"),
    publishErrors: counter("akis_gateway_publish_errors_total", "Failed publish attempts (each retried with the same message id)"),
    pauses: counter("akis_gateway_backpressure_pauses_total", "Times the gateway stopped reading sockets because JetStream lagged"),
    rateLimited: counter("akis_gateway_rate_limited_total", "Times a connection was throttled for exceeding its readings/s"),
    accepted_conn: counter("akis_gateway_connections_accepted_total", "TLS connections that passed the certificate checks"),
    replaced: counter("akis_gateway_connections_replaced_total", "Connections closed because the same device connected again"),
    closed: counter("akis_gateway_connections_closed_total", "Connections closed by the gateway, by reason", ["reason"]),
    open: gauge("akis_gateway_connections", "Device connections open now"),
    hellos: counter("akis_gateway_hellos_total", "Hello lines accepted (a device declared its boot)"),
    crlRevoked: gauge("akis_gateway_crl_revoked", "Serials in the loaded CRL"),
    crlNextUpdate: gauge("akis_gateway_crl_next_update_seconds", "The loaded CRL's next update (Unix seconds; 0: none)"),
    crlStale: gauge("akis_gateway_crl_stale", "1 while the loaded CRL is past its next update (still enforced)"),
    crlErrors: counter("akis_gateway_crl_reload_errors_total", "CRL files refused while running"),
    clusterLag: gauge("akis_gateway_cluster_lag_batches", "The most lagging shard's batches still to read, as the nodes last reported it (admission closes above gateway.admitMaxLagBatches when that is set)"),
    refused: counter("akis_gateway_connections_refused_total", "Sockets refused at accept or dropped at a deadline (cap, handshake rate, timeouts), by reason", ["reason"]),
    decoderExceptions: counter("akis_gateway_decoder_exceptions_total", "Frames whose decoding threw (answered bad_*; should stay 0)"),
    ackModes: counter("akis_gateway_ack_modes_total", "Acknowledgement modes chosen by connections, by mode", ["mode"]),
  }
  // --- Shards, actors, checkpoints ---
  const sh = {
    batches: counter("akis_shard_batches_total", "Reading batches consumed by shard hosts"),
    readings: counter("akis_shard_readings_total", "Readings handed to device actors"),
    malformed: counter("akis_shard_malformed_batches_total", "Batches that failed to decode (dead-lettered, counted)"),
    checkpoints: counter("akis_checkpoints_total", "Shard checkpoints written"),
    resets: counter("akis_shard_resets_total", "Shard host resets (consumer recreated)"),
    deadLetters: counter("akis_shard_dead_letters_total", "Batches copied to AKIS_DLQ (malformed, invalid readings, or an actor that threw)"),
    poison: counter("akis_shard_poison_readings_total", "Readings an actor threw on"),
    gaps: counter("akis_shard_gaps_total", "Times a shard found stream messages expired before it read them"),
    gapSeqs: counter("akis_shard_gap_messages_total", "Stream messages expired before their shard read them"),
    pauses: counter("akis_shard_pauses_total", "Times a shard host paused because its node's heartbeats were failing (self-fencing)"),
    resumes: counter("akis_shard_resumes_total", "Pauses after which the host went on in place (its lease still current): nothing restored or replayed"),
    held: gauge("akis_shards_held", "Shards this node holds now"),
    lag: gauge("akis_shard_lag_batches", "Batches in the shard's stream not yet processed", ["shard"]),
    actors: gauge("akis_actors_active", "Device actors in memory (live and passivated-with-state)"),
    sinkPending: gauge("akis_sink_pending_rows", "Rows queued in this node's shard sinks, not yet in ClickHouse"),
    checkpointBytes: gauge("akis_checkpoint_bytes", "Size of the shard's last checkpoint", ["shard"]),
  }
  // --- Sink, alerts, rules ---
  const sk = {
    inserts: counter("akis_sink_inserts_total", "ClickHouse inserts done by the sink group"),
    insertErrors: counter("akis_sink_insert_errors_total", "ClickHouse insert attempts that failed (retried)"),
    rows: counter("akis_sink_rows_total", "Rows inserted into ClickHouse telemetry"),
    bytes: counter("akis_sink_bytes_total", "Bytes sent to ClickHouse in inserts"),
    fenced: counter("akis_sink_fenced_rows_total", "Rows refused because the shard's lease moved (fences)"),
    alertsStored: counter("akis_alert_writer_stored_total", "Alert transitions stored in ClickHouse"),
    alertsSkipped: counter("akis_alert_writer_skipped_total", "Messages on AKIS_ALERTS that were not transitions"),
    alertsErrors: counter("akis_alert_writer_insert_errors_total", "Alert insert attempts that failed (retried)"),
    alertsDeadLettered: counter("akis_alert_writer_dead_letters_total", "Alert transitions copied to AKIS_DLQ (not storable)"),
    device: counter("akis_device_events_total", "Device actor events: readings, duplicates, late, raised, cleared, ... (by event)", ["event"]),
    rulesApplied: counter("akis_rules_applied_total", "Rule set versions swapped in"),
    rulesInvalid: counter("akis_rules_invalid_total", "Rule set versions refused by this node (running set kept)"),
    wireMalformed: counter("akis_wire_malformed_total", "Messages from other processes dropped because they did not decode (by message)", ["message"]),
    heartbeatsWithheld: counter("akis_node_heartbeats_withheld_total", "Times this node's heartbeats were held back because its event loop had not turned for node.watchdogMs"),
  }
  const hostCounters: ReadonlyArray<[string, Counter<string>]> = [
    ["batches", sh.batches], ["readings", sh.readings], ["malformedBatches", sh.malformed], ["checkpoints", sh.checkpoints], ["resets", sh.resets],
    ["deadLetters", sh.deadLetters], ["poisonReadings", sh.poison], ["gaps", sh.gaps], ["gapSeqs", sh.gapSeqs],
    ["pauses", sh.pauses], ["resumes", sh.resumes],
  ]
  const alertLatency = new Histogram({ name: "akis_reading_to_alert_seconds", help: "Reading event time to its alert transition arriving at this node", buckets: latencyBuckets, registers: [registry] })
  const ackLatency = new Histogram({ name: "akis_device_ack_seconds", help: "First reading of a batch to its PubAck, when devices get ACK", buckets: latencyBuckets, registers: [registry] })
  const insertLatency = new Histogram({ name: "akis_clickhouse_insert_seconds", help: "Duration of a ClickHouse insert", buckets: latencyBuckets, registers: [registry] })
  const httpRequests = counter("akis_http_requests_total", "API requests by route template, method and status", ["route", "method", "status"])
  const httpDuration = new Histogram({ name: "akis_http_request_seconds", help: "API request duration", labelNames: ["route", "method"], buckets: latencyBuckets, registers: [registry] })

  const root = {}
  const collect = async () => {
    const g = sources.gateway?.()
    if (g) {
      g.observeAckLatency ??= (s) => ackLatency.observe(s)
      feed(gw.accepted, root, "accepted", g.accepted)
      for (const [code, n] of Object.entries(g.rejected_by_code)) feed(gw.rejected, root, `rej.${code}`, n, { code })
      for (const [reason, n] of Object.entries(g.tls_refused_by_reason)) feed(gw.tls, root, `tls.${reason}`, n, { reason })
      feed(gw.durable, root, "durable", g.durable)
      feed(gw.acks, root, "acks", g.acked)
      feed(gw.batches, root, "batches", g.published_batches)
      feed(gw.publishErrors, root, "perr", g.publish_errors)
      feed(gw.pauses, root, "pauses", g.backpressure_pauses)
      feed(gw.rateLimited, root, "rl", g.rate_limited)
      feed(gw.accepted_conn, root, "cacc", g.connections_accepted)
      feed(gw.replaced, root, "crep", g.connections_replaced)
      feed(gw.closed, root, "c.idle", g.connections_closed_idle, { reason: "idle" })
      feed(gw.closed, root, "c.err", g.connections_closed_errors, { reason: "errors" })
      feed(gw.closed, root, "c.slow", g.connections_closed_slow_reader, { reason: "slow_reader" })
      gw.open.set(g.connections_open)
      if (typeof g.hellos === "number") feed(gw.hellos, root, "hellos", g.hellos)
      if (typeof g.crl_revoked === "number") gw.crlRevoked.set(g.crl_revoked)
      if (typeof g.crl_next_update_ms === "number") gw.crlNextUpdate.set(g.crl_next_update_ms / 1000)
      if (typeof g.crl_stale === "number") gw.crlStale.set(g.crl_stale)
      if (typeof g.crl_reload_errors === "number") feed(gw.crlErrors, root, "crlerr", g.crl_reload_errors)
      if (typeof g.cluster_lag_batches === "number") gw.clusterLag.set(g.cluster_lag_batches)
      for (const [reason, n] of Object.entries(g.connections_refused_by_reason ?? {})) feed(gw.refused, root, `ref.${reason}`, n, { reason })
      if (typeof g.decoder_exceptions === "number") feed(gw.decoderExceptions, root, "dex", g.decoder_exceptions)
      for (const [mode, n] of Object.entries(g.ack_modes ?? {})) feed(gw.ackModes, root, `am.${mode}`, n, { mode })
    }
    if (sources.hosts) {
      const hosts = await sources.hosts()
      sh.held.set(hosts.length)
      sh.lag.reset()
      sh.checkpointBytes.reset()
      let actors = 0
      let pending = 0
      for (const h of hosts) {
        for (const [name, c] of hostCounters) if (typeof h.counters[name] === "number") feed(c, h.key, name, h.counters[name]!)
        if (h.pendingBatches !== null) sh.lag.set({ shard: String(h.shard) }, h.pendingBatches)
        if (h.checkpointBytes !== undefined) sh.checkpointBytes.set({ shard: String(h.shard) }, h.checkpointBytes)
        actors += h.actors
        pending += h.sinkPending ?? 0
      }
      sh.actors.set(actors)
      sh.sinkPending.set(pending)
    }
    const s = sources.sink?.()
    if (s) {
      feed(sk.inserts, root, "si", s.inserts)
      feed(sk.insertErrors, root, "se", s.insertErrors)
      feed(sk.rows, root, "sr", s.rowsInserted)
      feed(sk.bytes, root, "sb", s.bytesInserted)
    }
    const fenced = sources.fencedRows?.()
    if (fenced !== undefined) feed(sk.fenced, root, "fenced", fenced)
    const a = sources.alertWriter?.()
    if (a) {
      feed(sk.alertsStored, root, "as", a.stored)
      feed(sk.alertsSkipped, root, "ak", a.skipped)
      feed(sk.alertsErrors, root, "ae", a.insertErrors)
      if (typeof a.deadLettered === "number") feed(sk.alertsDeadLettered, root, "adl", a.deadLettered)
    }
    const d = sources.device?.()
    if (d) for (const [event, n] of Object.entries(d)) if (typeof n === "number") feed(sk.device, root, `d.${event}`, n, { event })
    const r = sources.rules?.()
    if (r) {
      feed(sk.rulesApplied, root, "ra", r.applied)
      feed(sk.rulesInvalid, root, "ri", r.invalid)
    }
    const w = sources.wireMalformed?.()
    if (w) for (const [message, n] of Object.entries(w)) feed(sk.wireMalformed, root, `w.${message}`, n, { message })
    const hw = sources.heartbeatsWithheld?.()
    if (typeof hw === "number") feed(sk.heartbeatsWithheld, root, "hw", hw)
  }

  return {
    registry, alertLatency, ackLatency, insertLatency, httpRequests, httpDuration,
    async text() {
      await collect()
      return { contentType: registry.contentType, body: await registry.metrics() }
    },
  }
}
