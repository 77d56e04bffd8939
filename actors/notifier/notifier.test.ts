/**
 * Two notifiers on the NATS twins and a TestClock: the standby takes the lease over when the
 * active one stops mid-retry, and what the first one never settled is delivered once by the
 * second (tests/notify-failover.test.ts kills a real process on a real server).
 */
import { describe, expect, test } from "bun:test"
import type { NotifyConfig } from "../../config/notify-schema.ts"
import { alertSubject, type AlertTransition } from "../../runtime/alert.ts"
import { TestClock } from "../../runtime/clock.ts"
import { MemoryNats } from "../../runtime/nats/memory-nats.ts"
import { names } from "../../runtime/nats/topology.ts"
import type { Channel } from "./channel.ts"
import { DeliveryFailed } from "./errors.ts"
import { startNotifier } from "./notifier.ts"

const topology = { replicas: 1, telemetryMaxAgeHours: 1, alertsMaxAgeHours: 1 }
const config: NotifyConfig = {
  consumer: "akis_notify", bucket: names.notify, maxAttempts: 1_000, retryMinMs: 100, retryMaxMs: 200, timeoutMs: 1_000, concurrency: 4,
  digestWindowMs: 60_000, digestThreshold: 1_000_000, cap: { max: 1_000_000, windowMs: 60_000 }, capByRule: {},
  channels: { hook: { type: "webhook", url: "http://unused", secret: "k", severities: [], groups: [] } },
}

describe("notifier failover on the twins", () => {
  test("the standby takes over from an active notifier stopped mid-retry and delivers each transition once", async () => {
    const clock = new TestClock()
    const nats = new MemoryNats(clock)
    await nats.setup.ensure([names.alerts], topology)
    const sent: string[] = []
    let failing = true
    const hook: Channel = {
      name: "hook", type: "webhook", close: async () => {},
      async send(n) {
        if (failing) throw new DeliveryFailed({ channel: "hook", message: "receiver down", permanent: false })
        sent.push(n.key)
      },
    }
    const start = (nodeId: string) => startNotifier({
      nats, config, nodeId, heartbeatMs: 200, suspicionMs: 1_000, topology, facts: () => ({ throttleMs: 0, groups: [] }),
      channels: new Map([["hook", hook]]), clock, ackWaitMs: 2_000,
    })
    const n1 = await start("n1")
    await clock.advance(500)
    const n2 = await start("n2")
    await clock.advance(1_000)
    expect([n1.active, n2.active]).toEqual([true, false])

    const ts: AlertTransition[] = Array.from({ length: 5 }, (_, i) => ({
      id: `bus-${i}:overheating:1:raised:warning`, alertId: `bus-${i}:overheating:1`, device: `bus-${i}`, rule: "overheating", kind: "raised",
      severity: "warning", at: clock.now(), seq: 1, message: "hot", values: {}, channels: ["hook"], ruleVersion: 1, recvAt: clock.now(),
    }))
    for (const t of ts) await nats.js.publish(alertSubject(t), new TextEncoder().encode(JSON.stringify(t)))
    await clock.advance(3_000)
    expect(sent).toEqual([])
    expect(n1.metrics.retries).toBeGreaterThan(0)

    const stopping = n1.stop() // mid-retry: nothing acked, the lease handed over
    await clock.advance(1_000)
    await stopping
    failing = false
    await clock.advance(5_000)
    expect([n1.active, n2.active]).toEqual([false, true])
    expect(sent.length).toBe(5)
    expect(new Set(sent)).toEqual(new Set(ts.map((t) => `${t.id}@hook`)))
    expect(nats.js.unacked(names.alerts, config.consumer)).toBe(0)
    await clock.advance(10_000) // settled: nothing comes again
    expect(sent.length).toBe(5)
    const stopped = n2.stop()
    await clock.advance(1_000)
    await stopped
  })
})
