import { describe, expect, test } from "bun:test"
import { TestClock } from "../runtime/clock.ts"
import { CrlWatch, watchCrl } from "./crl.ts"
import { CrlUnreadable } from "./errors.ts"
import { newMetrics } from "./metrics.ts"

/** A CRL watch whose file "changes" when the test says so (no openssl, no files). */
class FakeWatch extends CrlWatch {
  next: Array<boolean | Error> = []
  override async check(): Promise<boolean> {
    const r = this.next.shift() ?? false
    if (r instanceof Error) throw r
    if (r) this.serials = new Set([...this.serials, `S${this.serials.size + 1}`])
    return r
  }
}

describe("CRL watch on the gateway clock", () => {
  test("re-checks every everyMs: a changed list reaches onChange, an unreadable one is counted, staleness is warned once", async () => {
    const clock = new TestClock(0)
    const w = new FakeWatch("/crl.pem")
    w.nextUpdate = 2_500
    const metrics = newMetrics()
    const logs: string[] = []
    const changes: number[] = []
    const stop = watchCrl(w, { everyMs: 1_000, metrics, clock, log: (l) => logs.push(l), onChange: (s) => changes.push(clock.now() + s.size / 10) })
    w.next = [true, new CrlUnreadable({ path: "/crl.pem", message: "cannot read CRL /crl.pem: bad" }), false, false]
    await clock.advance(999)
    expect(changes).toEqual([])
    await clock.advance(1)
    expect(changes).toEqual([1_000.1])
    expect(metrics.crl_revoked).toBe(1)
    await clock.advance(1_000)
    expect(metrics.crl_reload_errors).toBe(1)
    expect(logs.some((l) => l.includes("cannot read CRL"))).toBe(true)
    expect(metrics.crl_stale).toBe(0)
    await clock.advance(2_000) // past nextUpdate (2_500): stale, warned once over two checks
    expect(metrics.crl_stale).toBe(1)
    expect(logs.filter((l) => l.includes("past its next update"))).toHaveLength(1)
    stop()
    expect(clock.timers).toBe(0)
  })
})
