import { describe, expect, test } from "bun:test"
import { reconnectCpu, reconnectMiss, refusedIn } from "./scale/verdict.ts"

describe("scale bench: refusals read from a gateway's output", () => {
  test("sums one reason over the per-second summaries, whatever else each names", () => {
    const out = [
      "gateway listening on 127.0.0.1:7443",
      "gateway: refused new connections in the last second (cluster_lagging 120, handshake_rate 3): 60 cluster_lagging from 127.0.0.2, 60 cluster_lagging from 127.0.0.3, 3 handshake_rate from 127.0.0.2",
      "gateway: refused new connections in the last second (address_handshake_rate 9): 9 address_handshake_rate from 127.0.0.4",
      "gateway: refused new connections in the last second (handshake_rate 1, cluster_lagging 7): 7 cluster_lagging from 127.0.0.2, ...",
    ].join("\n")
    expect(refusedIn(out, "cluster_lagging")).toBe(127)
    expect(refusedIn(out, "handshake_rate")).toBe(4)
    expect(refusedIn(out, "max_connections")).toBe(0)
  })
})

describe("scale bench: the reconnect goal's miss carries its reason", () => {
  // The 100k run of bffa00c: ms per device gateway 0.78, worker 0.487, nats 0.19, clickhouse 0.063, sims 0.929.
  const cpu_ms = { gateway: 78_000, worker: 48_700, nats: 19_000, clickhouse: 6_300, sims: 92_900 }
  test("CPU over the reconnect, its time on these cores, and the server side's share alone", () => {
    expect(reconnectMiss(128.9, reconnectCpu(cpu_ms, 100_000, 2), 60)).toBe(
      "reconnect_s 128.9 > 60: CPU-bound, 244.9 CPU s over the reconnect (2.449 ms per device: gateway 0.78, worker 0.487, nats 0.19, clickhouse 0.063, sims 0.929), " +
        "122.5 s of 2 cores at full use; the devices' half of every mTLS handshake (sims) runs on the same cores, and the server side alone needs 76 s, above the goal by itself",
    )
  })
  test("a server side that would fit the goal is not called above it", () => {
    expect(reconnectMiss(70, reconnectCpu(cpu_ms, 100_000, 4), 60)).toEndWith("the server side alone needs 38 s")
  })
})
