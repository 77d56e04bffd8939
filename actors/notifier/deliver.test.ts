import { describe, expect, test } from "bun:test"
import { TestClock } from "../../runtime/clock.ts"
import type { Channel } from "./channel.ts"
import { backoffMs, deliverWithRetry } from "./deliver.ts"
import { DeliveryFailed } from "./errors.ts"
import type { Notification } from "./message.ts"

const n = { type: "digest", key: "k", channel: "c", transitions: [] } as Notification
const failing = (results: Array<"ok" | "retry" | "permanent">, clock?: TestClock): Channel & { calls: number; at: number[] } => {
  const ch = {
    name: "c", type: "webhook" as const, calls: 0, at: [] as number[],
    async send() {
      ch.at.push(clock?.now() ?? 0)
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
    const clock = new TestClock(0)
    const ch = failing(["retry", "retry", "retry", "ok"], clock)
    const out = deliverWithRetry(ch, n, policy, clock)
    await clock.advance(10_000)
    expect(await out).toEqual({ ok: true, attempts: 4 })
    // Sent at once, then after 100, 200 and 400 ms more.
    expect(ch.at).toEqual([0, 100, 300, 700])
  })

  test("gives up after maxAttempts, and at once on a permanent refusal", async () => {
    const clock = new TestClock(0)
    const failures: number[] = []
    const pending = deliverWithRetry(failing(["retry"]), n, policy, clock, (a) => failures.push(a))
    await clock.advance(60_000)
    const out = await pending
    expect(out.ok).toBe(false)
    expect(out.attempts).toBe(5)
    expect(failures).toEqual([1, 2, 3, 4, 5])
    expect(clock.timers).toBe(0)
    const refused = await deliverWithRetry(failing(["permanent"]), n, policy, clock)
    expect(refused).toMatchObject({ ok: false, attempts: 1, error: { permanent: true } })
  })

  test("backoff is capped", () => {
    expect([1, 2, 3, 4, 5, 50].map((a) => backoffMs(a, policy))).toEqual([100, 200, 400, 800, 1_000, 1_000])
  })
})

describe("deliverWithRetry when the node stops", () => {
  test("makes no further attempt and reports aborted, so the message is left for the next owner", async () => {
    const clock = new TestClock(0)
    let live = true
    const ch = failing(["retry"])
    const pending = deliverWithRetry(ch, n, policy, clock, () => {}, () => live)
    await clock.advance(50)
    live = false // deposed while waiting for the retry
    await clock.advance(10_000)
    expect(await pending).toMatchObject({ ok: false, attempts: 1, aborted: true })
    expect(ch.calls).toBe(1)
    // Deposed before the wait: not even a wait.
    live = false
    expect(await deliverWithRetry(failing(["retry"]), n, policy, clock, () => {}, () => live)).toMatchObject({ ok: false, attempts: 1, aborted: true })
  })
})
