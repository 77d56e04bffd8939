import { describe, expect, test } from "bun:test"
import type { Channel } from "./channel.ts"
import { backoffMs, deliverWithRetry } from "./deliver.ts"
import { DeliveryFailed } from "./errors.ts"
import type { Notification } from "./message.ts"

const n = { type: "digest", key: "k", channel: "c", transitions: [] } as Notification
const failing = (results: Array<"ok" | "retry" | "permanent">): Channel & { calls: number } => {
  const ch = {
    name: "c", type: "webhook" as const, calls: 0,
    async send() {
      const r = results[Math.min(ch.calls++, results.length - 1)]
      if (r !== "ok") throw new DeliveryFailed({ channel: "c", message: r!, permanent: r === "permanent" })
    },
    close: async () => {},
  }
  return ch
}
const policy = { maxAttempts: 5, retryMinMs: 100, retryMaxMs: 1_000 }

describe("deliverWithRetry", () => {
  test("retries with doubling backoff until the receiver accepts", async () => {
    const slept: number[] = []
    const ch = failing(["retry", "retry", "retry", "ok"])
    const out = await deliverWithRetry(ch, n, policy, async (ms) => { slept.push(ms) })
    expect(out).toEqual({ ok: true, attempts: 4 })
    expect(slept).toEqual([100, 200, 400])
  })

  test("gives up after maxAttempts, and at once on a permanent refusal", async () => {
    const failures: number[] = []
    const out = await deliverWithRetry(failing(["retry"]), n, policy, async () => {}, (a) => failures.push(a))
    expect(out.ok).toBe(false)
    expect(out.attempts).toBe(5)
    expect(failures).toEqual([1, 2, 3, 4, 5])
    const refused = await deliverWithRetry(failing(["permanent"]), n, policy, async () => {})
    expect(refused).toMatchObject({ ok: false, attempts: 1, error: { permanent: true } })
  })

  test("backoff is capped", () => {
    expect([1, 2, 3, 4, 5, 50].map((a) => backoffMs(a, policy))).toEqual([100, 200, 400, 800, 1_000, 1_000])
  })
})

describe("deliverWithRetry when the node stops", () => {
  test("makes no further attempt and reports aborted, so the message is left for the next owner", async () => {
    let live = true
    const ch = failing(["retry"])
    const out = await deliverWithRetry(ch, n, policy, async () => { live = false }, () => {}, () => live)
    expect(out).toMatchObject({ ok: false, attempts: 1, aborted: true })
    expect(ch.calls).toBe(1)
  })
})
