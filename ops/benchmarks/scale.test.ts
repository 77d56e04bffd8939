import { describe, expect, test } from "bun:test"
import { refusedIn } from "./scale.ts"

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
