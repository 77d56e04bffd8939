/** ops/up's live summary tells "no node yet" from a real failure by the errors' tags, not their text. */
import { describe, expect, test } from "bun:test"
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { TestClock } from "../../runtime/clock.ts"
import { NatsUnavailable, NoAnswer, StreamNotFound } from "../../runtime/errors.ts"
import { MemoryBus } from "../../runtime/nats/memory-bus.ts"
import { askHistory, HistoryRequestFailed } from "./history-service.ts"
import { beforeFirstNode, ensureFleetCerts } from "./up.ts"

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

describe("ops/up's fleet certificates", () => {
  test("a later run with a larger fleet issues only the missing device certificates", async () => {
    const dir = mkdtempSync(join(tmpdir(), "akis-up-certs-"))
    try {
      const said: string[] = []
      const crts = () => readdirSync(join(dir, "devices")).filter((f) => f.endsWith(".crt")).sort()
      await ensureFleetCerts(dir, 2, (m) => said.push(m))
      expect(crts()).toEqual(["bus-0001.crt", "bus-0002.crt"])
      const first = readFileSync(join(dir, "devices", "bus-0001.crt"), "utf8")
      const ca = readFileSync(join(dir, "ca.crt"), "utf8")
      await ensureFleetCerts(dir, 4, (m) => said.push(m))
      // the simulator of a 4-device fleet opens bus-0001 … bus-0004: all there, the old ones unchanged
      expect(crts()).toEqual(["bus-0001.crt", "bus-0002.crt", "bus-0003.crt", "bus-0004.crt"])
      expect(readFileSync(join(dir, "devices", "bus-0001.crt"), "utf8")).toBe(first)
      expect(readFileSync(join(dir, "ca.crt"), "utf8")).toBe(ca)
      expect(said[1]).toContain("issuing 2 more device certificates")
      await ensureFleetCerts(dir, 3, (m) => said.push(m)) // a smaller fleet: nothing to do
      expect(said).toHaveLength(2)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
