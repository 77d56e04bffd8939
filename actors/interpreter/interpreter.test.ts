/**
 * The interpreter on the NATS twins and a TestClock: which transitions it takes up from its
 * durable consumer, what it publishes, and that what a stopped interpreter left unacked comes to
 * the next one after the ack wait (tests/interpreter.test.ts runs it on a server and Ollama fake).
 */
import { describe, expect, test } from "bun:test"
import type { InterpreterConfig } from "../../config/notify-schema.ts"
import { alertSubject, type AlertTransition } from "../../runtime/alert.ts"
import { TestClock } from "../../runtime/clock.ts"
import { MemoryNats } from "../../runtime/nats/memory-nats.ts"
import { names } from "../../runtime/nats/topology.ts"
import { parseExplanation } from "./annotation.ts"
import { startInterpreter } from "./interpreter.ts"
import type { Model } from "./ollama-model.ts"

const topology = { replicas: 1, telemetryMaxAgeHours: 1, alertsMaxAgeHours: 1 }
const cfg: InterpreterConfig = {
  enabled: true, consumer: "akis_interpret", host: "http://unused", model: "fake", api: "chat", stream: false, timeoutMs: 2_000, maxConcurrent: 2,
  maxBacklog: 16, maxAgeMs: 600_000, breakerFailures: 3, breakerCooldownMs: 60_000, cacheSize: 16, historyMinutes: 60,
}
const context = { description: () => "", windows: async () => undefined, history: async () => [] }
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

const setup = async () => {
  const clock = new TestClock()
  const nats = new MemoryNats(clock)
  await nats.setup.ensure([names.alerts], topology)
  const transition = (device: string, kind: AlertTransition["kind"]): AlertTransition => ({
    id: `${device}:overheating:1:${kind}:warning`, alertId: `${device}:overheating:1`, device, rule: "overheating", kind, severity: "warning",
    at: clock.now(), seq: 1, message: "hot", values: { t: 101 }, channels: [], ruleVersion: 1, recvAt: clock.now(),
  })
  const send = (t: AlertTransition) => nats.js.publish(alertSubject(t), json(t))
  /** Explanations published so far: alert id → text, with their msg ids. */
  const explained = () => nats.js.messages(names.alerts).flatMap((m) => {
    const x = parseExplanation(m.data)
    return x ? [{ alertId: x.alertId, text: x.text, msgId: m.msgId, subject: m.subject }] : []
  })
  return { clock, nats, transition, send, explained }
}

describe("interpreter on the twins", () => {
  test("explains raised transitions from its start time on, skips cleared ones, acks everything", async () => {
    const { clock, nats, transition, send, explained } = await setup()
    await send(transition("bus-0", "raised")) // older than maxAgeMs when the consumer is made: not its history
    await clock.advance(cfg.maxAgeMs + 1_000)
    const prompts: string[] = []
    const model: Model = { name: "fake", explain: async (p) => (prompts.push(p), `why ${prompts.length}`) }
    const i = await startInterpreter({ nats, config: cfg, model, context, clock })
    const raised = transition("bus-1", "raised")
    await send(raised)
    await send(transition("bus-1", "cleared"))
    await send(transition("bus-2", "raised"))
    await clock.advance(3_000)
    expect(explained().map((x) => [x.alertId, x.msgId, x.subject]).sort()).toEqual([
      ["bus-1:overheating:1", `explain:${raised.id}`, "akis.alerts.explanation.bus-1"],
      ["bus-2:overheating:1", "explain:bus-2:overheating:1:raised:warning", "akis.alerts.explanation.bus-2"],
    ])
    expect(prompts.length).toBe(1) // the same situation on another device: from the cache
    expect(i.metrics.cacheHits).toBe(1)
    expect(i.metrics.considered).toBe(2)
    expect(i.metrics.explained).toBe(2)
    expect(i.metrics.skipped).toBe(3) // the cleared transition and the two explanations read back from the stream
    expect(nats.js.unacked(names.alerts, cfg.consumer)).toBe(0)
    const stopped = i.stop()
    await clock.advance(2_000)
    await stopped
  })

  test("alerts a stopped interpreter left waiting for the model go to the next one after the ack wait", async () => {
    const { clock, nats, transition, send, explained } = await setup()
    const stuck: Model = { name: "fake", explain: () => new Promise<string>(() => {}) } // never answers
    const first = await startInterpreter({ nats, config: cfg, model: stuck, context, clock })
    await send(transition("bus-1", "raised"))
    await send(transition("bus-2", "raised"))
    await send(transition("bus-3", "raised"))
    await clock.advance(2_000)
    expect(first.metrics.considered).toBe(3)
    const stopping = first.stop()
    await clock.advance(2_000)
    await stopping
    expect(nats.js.unacked(names.alerts, cfg.consumer)).toBe(3)

    const second = await startInterpreter({ nats, config: cfg, model: { name: "fake", explain: async () => "later" }, context, clock })
    await clock.advance(20_000)
    expect(explained()).toEqual([]) // within the ack wait (30 s) of the first one's last in-progress ack
    await clock.advance(15_000)
    expect(explained().map((x) => x.alertId).sort()).toEqual(["bus-1", "bus-2", "bus-3"].map((d) => `${d}:overheating:1`))
    expect(nats.js.unacked(names.alerts, cfg.consumer)).toBe(0)
    const stopped = second.stop()
    await clock.advance(2_000)
    await stopped
  })
})
