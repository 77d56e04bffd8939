import { describe, expect, test } from "bun:test"
import { Admission, type AdmissionLimits } from "./admission.ts"

const limits: AdmissionLimits = {
  maxConnections: 3, maxHandshakesPerSec: 100, maxHandshakesPerSecPerAddress: 2,
  handshakeTimeoutMs: 1000, firstFrameTimeoutMs: 2000, idleTimeoutMs: 5000,
}
const at = (l: Partial<AdmissionLimits> = {}) => new Admission<string>({ ...limits, ...l })

describe("Admission", () => {
  test("refuses sockets beyond maxConnections and admits again once one closes", () => {
    const a = at({ maxHandshakesPerSecPerAddress: 100 })
    expect(["a", "b", "c"].map((h) => a.admit(h, "10.0.0.1", 0))).toEqual([undefined, undefined, undefined])
    expect(a.admit("d", "10.0.0.1", 0)).toBe("max_connections")
    a.remove("a")
    expect(a.admit("d", "10.0.0.1", 0)).toBeUndefined()
  })

  test("caps new sockets per second per source address; other addresses are not affected", () => {
    const a = at({ maxConnections: 100 })
    expect(a.admit("a", "10.0.0.1", 0)).toBeUndefined()
    expect(a.admit("b", "10.0.0.1", 0)).toBeUndefined()
    expect(a.admit("c", "10.0.0.1", 0)).toBe("address_handshake_rate")
    expect(a.admit("c", "10.0.0.2", 0)).toBeUndefined()
    // 2 per second: one more after half a second.
    expect(a.admit("d", "10.0.0.1", 499)).toBe("address_handshake_rate")
    expect(a.admit("d", "10.0.0.1", 500)).toBeUndefined()
  })

  test("caps new sockets per second over the whole listener", () => {
    const a = at({ maxConnections: 100, maxHandshakesPerSec: 3, maxHandshakesPerSecPerAddress: 100 })
    expect([1, 2, 3, 4].map((i) => a.admit(`s${i}`, `10.0.0.${i}`, 0))).toEqual([undefined, undefined, undefined, "handshake_rate"])
  })

  test("while the cluster lags, every new socket is refused and spends no handshake budget; open ones stay", () => {
    let lagging = false
    const a = new Admission<string>({ ...limits, maxConnections: 100, maxHandshakesPerSec: 2, maxHandshakesPerSecPerAddress: 100 }, () => lagging)
    expect(a.admit("a", "10.0.0.1", 0)).toBeUndefined()
    lagging = true
    expect(["b", "c", "d"].map((h) => a.admit(h, `10.0.0.${h}`, 0))).toEqual(["cluster_lagging", "cluster_lagging", "cluster_lagging"])
    expect(a.size).toBe(1)
    lagging = false
    // The refusals took nothing of the listener's 2 a second: one more is admitted in the same second.
    expect(a.admit("b", "10.0.0.2", 0)).toBeUndefined()
    expect(a.admit("c", "10.0.0.3", 0)).toBe("handshake_rate")
  })

  test("drops a socket that has not finished its handshake at the deadline, not before", () => {
    const a = at()
    a.admit("s", "10.0.0.1", 0)
    expect(a.sweep(999)).toEqual([])
    expect(a.sweep(1000)).toEqual([["s", "handshake_timeout"]])
    expect(a.size).toBe(0)
  })

  test("closes a device that sends no frame within firstFrameTimeoutMs of its handshake", () => {
    const a = at()
    a.admit("s", "10.0.0.1", 0)
    a.handshaken("s", 800)
    a.seen("s", 1500, false) // bytes, but no complete frame yet
    expect(a.sweep(2799)).toEqual([])
    expect(a.sweep(2800)).toEqual([["s", "first_frame_timeout"]])
  })

  test("the first-frame wait is never longer than idleTimeoutMs", () => {
    const a = at({ idleTimeoutMs: 1500 })
    a.admit("s", "10.0.0.1", 0)
    a.handshaken("s", 0)
    expect(a.sweep(1500)).toEqual([["s", "idle_timeout"]])
  })

  test("a device that keeps talking is never idle; silence closes it idleTimeoutMs after the last byte", () => {
    const a = at()
    a.admit("s", "10.0.0.1", 0)
    a.handshaken("s", 0)
    a.seen("s", 10, true)
    let now = 10
    for (; now < 60_000; now += 1000) {
      a.seen("s", now, true)
      expect(a.sweep(now + 999)).toEqual([])
    }
    const last = now - 1000
    expect(a.sweep(last + 4999)).toEqual([])
    expect(a.sweep(last + 5000)).toEqual([["s", "idle_timeout"]])
  })

  test("a socket paused by the gateway is not idle; its silence counts from the resume", () => {
    const a = at()
    a.admit("s", "10.0.0.1", 0)
    a.handshaken("s", 0)
    a.seen("s", 0, true)
    a.hold("s", true, 100)
    expect(a.sweep(60_000)).toEqual([])
    a.hold("s", false, 60_000)
    expect(a.sweep(64_999)).toEqual([])
    expect(a.sweep(65_000)).toEqual([["s", "idle_timeout"]])
  })
})
