/** The API's KV stores on the KV twin (tests/api.test.ts and tests/wire-receivers.test.ts run them on a server). */
import { describe, expect, test } from "bun:test"
import { TestClock } from "../../runtime/clock.ts"
import { MemoryKv } from "../../runtime/nats/memory-kv.ts"
import { TokenRecordMessage } from "../../runtime/wire.ts"
import type { TokenRecord } from "./auth.ts"
import { kvAuditLog, kvTokenStore } from "./store.ts"

const token = (id: string, createdAt: number): TokenRecord => ({
  id, name: id, role: "viewer", hash: "ab", createdAt, expiresAt: null, revokedAt: null, createdBy: "cli",
})

describe("token store on the KV twin", () => {
  test("returns once every stored token is loaded, without waiting out its timeout, and follows later writes", async () => {
    const clock = new TestClock()
    const kv = new MemoryKv()
    await kv.put("t.aaaa0001", TokenRecordMessage.toJson(token("aaaa0001", 1)))
    await kv.put("t.aaaa0002", TokenRecordMessage.toJson(token("aaaa0002", 2)))
    await kv.put("other", "not a token and not watched")
    const store = await kvTokenStore(kv, undefined, clock) // the clock never moves: a wait for the 5 s timeout would hang
    expect(store.list().map((r) => r.id)).toEqual(["aaaa0001", "aaaa0002"])
    await kv.put("t.aaaa0003", TokenRecordMessage.toJson(token("aaaa0003", 3))) // written by another api node
    await clock.flush()
    expect(store.get("aaaa0003")?.createdAt).toBe(3)
    await kv.delete("t.aaaa0001")
    await clock.flush()
    expect(store.get("aaaa0001")).toBeUndefined()
    await store.close()
  })

  test("an empty bucket is ready at once", async () => {
    const store = await kvTokenStore(new MemoryKv(), undefined, new TestClock())
    expect(store.list()).toEqual([])
    await store.close()
  })
})

describe("audit log on the KV twin", () => {
  test("queries records by time and action, newest first; notes and acknowledgements by alert", async () => {
    const log = kvAuditLog(new MemoryKv())
    for (const [at, action] of [[1_000, "rules.apply"], [2_000, "alert.ack"], [3_000, "rules.apply"]] as const) {
      await log.append({ at, actor: "cli:me", role: "cli", action, target: "x" })
    }
    expect((await log.query({ from: 0, to: 10_000, limit: 10 })).map((r) => r.at)).toEqual([3_000, 2_000, 1_000])
    expect((await log.query({ from: 1_500, to: 10_000, action: "rules.apply", limit: 10 })).map((r) => r.at)).toEqual([3_000])
    await log.addNote({ alertId: "bus-1:r:1", at: 5, by: "me", kind: "comment", text: "looking" })
    await log.addNote({ alertId: "bus-1:r:1", at: 6, by: "me", kind: "ack", text: "" })
    await log.addNote({ alertId: "bus-2:r:1", at: 7, by: "me", kind: "comment", text: "" })
    expect((await log.notes("bus-1:r:1")).map((n) => n.kind)).toEqual(["comment", "ack"])
    expect(await log.acknowledged(["bus-1:r:1", "bus-2:r:1"])).toEqual(new Set(["bus-1:r:1"]))
  })
})
