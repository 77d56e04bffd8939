/** The gateway's batch publisher on the NATS twins (tests/gateway/*.test.ts run it on a server). */
import { describe, expect, test } from "bun:test"
import { TestClock } from "../runtime/clock.ts"
import { MemoryNats } from "../runtime/nats/memory-nats.ts"
import { names } from "../runtime/nats/topology.ts"
import { ensureTelemetryStream, makeBatchPublisher } from "./jetstream.ts"
import { NatsDisconnected } from "./errors.ts"

const topology = { replicas: 1, telemetryMaxAgeHours: 1, alertsMaxAgeHours: 1 }

describe("batch publisher on the twins", () => {
  test("publishes a batch on its shard's subject with its msg id; the same id again is a duplicate", async () => {
    const nats = new MemoryNats(new TestClock())
    await ensureTelemetryStream(nats.setup, topology)
    const publish = makeBatchPublisher(nats, 4)
    const a = await publish(3, new Uint8Array([1]), "gw.3.1")
    const b = await publish(0, new Uint8Array([2]), "gw.0.1")
    const again = await publish(3, new Uint8Array([1]), "gw.3.1") // a retry after a lost PubAck
    expect(nats.js.messages(names.telemetry).map((m) => [m.subject, m.msgId])).toEqual([["akis.tlm.3", "gw.3.1"], ["akis.tlm.0", "gw.0.1"]])
    expect([a.duplicate, b.duplicate, again.duplicate, again.seq]).toEqual([false, false, true, a.seq])
  })

  test("while the connection is down a batch fails at once and nothing is queued", async () => {
    const nats = new MemoryNats(new TestClock())
    await ensureTelemetryStream(nats.setup, topology)
    const publish = makeBatchPublisher(nats, 4)
    nats.down = true
    expect(await publish(1, new Uint8Array([1]), "gw.1.1").catch((e) => e)).toBeInstanceOf(NatsDisconnected)
    nats.down = false
    await publish(1, new Uint8Array([1]), "gw.1.2")
    expect(nats.js.messages(names.telemetry).map((m) => m.msgId)).toEqual(["gw.1.2"])
  })
})
