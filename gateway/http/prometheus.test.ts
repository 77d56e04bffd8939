import { describe, expect, test } from "bun:test"
import parsePrometheus from "parse-prometheus-text-format"
import { makeNodeMetrics, type HostSample } from "./prometheus.ts"

const host = (shard: number, readings: number, key: object = {}): HostSample => ({
  shard, key, pendingBatches: shard, actors: 10,
  counters: { batches: 1, readings, malformedBatches: 0, checkpoints: 2, resets: 0, deadLetters: 0 },
})
const value = async (m: ReturnType<typeof makeNodeMetrics>, name: string) => {
  const fam = parsePrometheus((await m.text()).body).find((f) => f.name === name)
  return fam ? fam.metrics.reduce((n, x) => n + Number(x.value ?? 0), 0) : undefined
}

describe("node metrics", () => {
  test("counters never go down when a shard host goes away, and count a new host's work", async () => {
    const a = {}
    let hosts = [host(0, 100, a), host(1, 50)]
    const m = makeNodeMetrics({ hosts: async () => hosts }, "n1")
    expect(await value(m, "akis_shard_readings_total")).toBe(150)
    hosts = [host(0, 130, a)] // shard 1 moved away
    expect(await value(m, "akis_shard_readings_total")).toBe(180)
    hosts = [host(0, 130, a), host(2, 7)] // shard 2 arrived with its own fresh counters
    expect(await value(m, "akis_shard_readings_total")).toBe(187)
    expect(await value(m, "akis_shards_held")).toBe(2)
    expect(await value(m, "akis_shard_lag_batches")).toBe(2) // shard 0 lags 0, shard 2 lags 2; shard 1's series is gone
  })

  test("heartbeats withheld for a stalled event loop are counted", async () => {
    let withheld = 0
    const m = makeNodeMetrics({ heartbeatsWithheld: () => withheld }, "n1")
    expect(await value(m, "akis_node_heartbeats_withheld_total")).toBe(0)
    withheld = 2
    expect(await value(m, "akis_node_heartbeats_withheld_total")).toBe(2)
  })

  test("gateway counters by label, and the ACK histogram hook", async () => {
    const g = {
      connections_accepted: 2, connections_open: 1, connections_replaced: 0, tls_refused_by_reason: { expired: 3 }, accepted: 10, rejected_by_code: { E_RANGE: 4 },
      durable: 10, acked: 9, published_batches: 2, publish_errors: 0, backpressure_pauses: 0, rate_limited: 0, connections_closed_idle: 0,
      connections_closed_errors: 0, connections_closed_slow_reader: 0, hellos: 0, crl_revoked: 1, crl_next_update_ms: 0, crl_stale: 0, crl_reload_errors: 0,
      connections_refused_by_reason: { handshake_timeout: 5, cluster_lagging: 7 }, decoder_exceptions: 0, ack_modes: { coalesced: 2 }, cluster_lag_batches: 640,
    } as Parameters<typeof makeNodeMetrics>[0]["gateway"] extends (() => infer G) | undefined ? NonNullable<G> : never
    const m = makeNodeMetrics({ gateway: () => g }, "n1")
    const text = (await m.text()).body
    expect(text).toContain('akis_gateway_tls_refused_total{reason="expired",node="n1"} 3')
    expect(text).toContain('akis_gateway_readings_rejected_total{code="E_RANGE",node="n1"} 4')
    expect(text).toContain('akis_gateway_connections_refused_total{reason="handshake_timeout",node="n1"} 5')
    expect(text).toContain('akis_gateway_ack_modes_total{mode="coalesced",node="n1"} 2')
    expect(text).toContain('akis_gateway_connections_refused_total{reason="cluster_lagging",node="n1"} 7')
    expect(text).toContain('akis_gateway_cluster_lag_batches{node="n1"} 640')
    g.observeAckLatency!(0.004)
    const fam = parsePrometheus((await m.text()).body).find((f) => f.name === "akis_device_ack_seconds")!
    expect(fam.metrics[0]!.buckets!["0.005"]).toBe("1")
    g.accepted = 25
    expect(await value(m, "akis_gateway_readings_accepted_total")).toBe(25)
  })
})
