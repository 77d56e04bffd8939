import { describe, expect, test } from "bun:test"
import { TestClock } from "./clock.ts"
import { backoffDelay, retry } from "./retry.ts"

describe("TestClock", () => {
  test("fires timers in time order, at their due time, only when advanced", async () => {
    const c = new TestClock(1000)
    const seen: string[] = []
    c.after(30, () => seen.push(`b@${c.now()}`))
    c.after(10, () => seen.push(`a@${c.now()}`))
    const stop = c.every(25, () => seen.push(`e@${c.now()}`))
    expect(seen).toEqual([])
    await c.advance(60)
    expect(seen).toEqual(["a@1010", "e@1025", "b@1030", "e@1050"])
    expect(c.now()).toBe(1060)
    stop()
    await c.advance(100)
    expect(seen.length).toBe(4)
    expect(c.timers).toBe(0)
  })

  test("sleep chains proceed as time moves; an abort rejects and disarms", async () => {
    const c = new TestClock(0)
    const log: number[] = []
    const loop = (async () => {
      for (let i = 0; i < 3; i++) {
        await c.sleep(100)
        log.push(c.now())
      }
    })()
    await c.advance(250)
    expect(log).toEqual([100, 200])
    await c.advance(50)
    await loop
    expect(log).toEqual([100, 200, 300])

    const ac = new AbortController()
    const p = c.sleep(1000, ac.signal)
    ac.abort(new Error("stopped"))
    await expect(p).rejects.toThrow("stopped")
    expect(c.timers).toBe(0)
  })
})

describe("retry", () => {
  test("backoff grows by the factor up to the cap; jitter stays within its fraction", () => {
    const b = { initialMs: 100, maxMs: 1000, jitter: 0 }
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(b, a))).toEqual([100, 200, 400, 800, 1000, 1000])
    for (const r of [0, 0.5, 0.999]) {
      const d = backoffDelay({ initialMs: 100, maxMs: 1000, jitter: 0.5 }, 3, () => r)
      expect(d).toBeGreaterThanOrEqual(200)
      expect(d).toBeLessThanOrEqual(400)
    }
  })

  test("retries on the clock until success, reporting each wait", async () => {
    const c = new TestClock(0)
    const waits: number[] = []
    let calls = 0
    const p = retry(async () => {
      if (++calls < 4) throw new Error(`fail ${calls}`)
      return c.now()
    }, { clock: c, backoff: { initialMs: 10, maxMs: 25, jitter: 0 }, onRetry: (_e, _a, d) => waits.push(d) })
    await c.advance(1000)
    expect(await p).toBe(10 + 20 + 25)
    expect(waits).toEqual([10, 20, 25])
  })

  test("stops at a non-retryable error, at maxAttempts and at the deadline, with the last error", async () => {
    const c = new TestClock(0)
    const fatal = new Error("fatal")
    await expect(retry(async () => { throw fatal }, { clock: c, backoff: { initialMs: 1, maxMs: 1 }, retryable: (e) => e !== fatal })).rejects.toBe(fatal)

    let n = 0
    const p = retry(async () => { throw new Error(`try ${++n}`) }, { clock: c, backoff: { initialMs: 10, maxMs: 10, jitter: 0 }, maxAttempts: 3 })
    p.catch(() => {})
    await c.advance(100)
    await expect(p).rejects.toThrow("try 3")

    let m = 0
    const q = retry(async () => { throw new Error(`late ${++m}`) }, { clock: c, backoff: { initialMs: 40, maxMs: 40, jitter: 0 }, deadlineMs: 100 })
    q.catch(() => {})
    await c.advance(1000)
    await expect(q).rejects.toThrow("late 3") // waits at 40 and 80; a third wait would end at 120
  })
})
