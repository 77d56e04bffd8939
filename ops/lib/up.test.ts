/** ops/up's live summary tells "no node yet" from a real failure by the errors' tags, not their text. */
import { describe, expect, test } from "bun:test"
import { TestClock } from "../../runtime/clock.ts"
import { NatsUnavailable, NoAnswer, StreamNotFound } from "../../runtime/errors.ts"
import { MemoryBus } from "../../runtime/nats/memory-bus.ts"
import { askHistory, HistoryRequestFailed } from "./history-service.ts"
import { beforeFirstNode } from "./up.ts"

describe("ops/up before the first node", () => {
  test("a missing bucket or an unanswered request is waited for; anything else is shown", async () => {
    // akis.history with no worker node yet, on the Bus twin: a HistoryRequestFailed caused by NoAnswer
    const unanswered = await askHistory(new MemoryBus(new TestClock()), { op: "summary" }).catch((e: unknown) => e)
    expect(unanswered).toBeInstanceOf(HistoryRequestFailed)
    expect(beforeFirstNode(unanswered)).toBe(true)
    expect(beforeFirstNode(new StreamNotFound({ stream: "KV_akis_members" }))).toBe(true)
    expect(beforeFirstNode(new NoAnswer({ subject: "akis.ctl.stats.n1" }))).toBe(true)
    // the text alone no longer decides
    expect(beforeFirstNode(new Error("stream not found"))).toBe(false)
    expect(beforeFirstNode(new Error("503 no responders"))).toBe(false)
    expect(beforeFirstNode(new HistoryRequestFailed("store", "ClickHouse refused"))).toBe(false)
    expect(beforeFirstNode(new NatsUnavailable({ servers: ["nats://127.0.0.1:1"] }))).toBe(false)
  })
})
