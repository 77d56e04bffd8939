import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import { Device } from "./testing.ts"

/**
 * Property tests of the stateful functions through the whole actor: with `for: 0` and no clear,
 * a rule's alert is open right after a reading exactly when its condition held at that reading,
 * so the open/closed state after each reading is compared with a brute-force definition.
 */
const rules = `
rules:
  seq:
    when: accel_x_ms2 < 0 then door_front_open within 5s
  seq_held:
    when: accel_x_ms2 < 0 then door_front_open within 5s
    clear: speed_kmh == 3
  stuck:
    when: unchanged(speed_kmh, 3s)
  slowing:
    when: prev(speed_kmh) > speed_kmh
  busy:
    when: count(speed_kmh, 4s) >= 3 and max(speed_kmh, 4s) - min(speed_kmh, 4s) >= 2
`
const readings = fc.array(
  fc.record({ dt: fc.integer({ min: 0, max: 3000 }), speed: fc.integer({ min: 0, max: 3 }), accel: fc.constantFrom(-1, 0, 1), door: fc.constantFrom(0, 1) }),
  { minLength: 1, maxLength: 120, size: "medium" },
)

describe("stateful rule functions", () => {
  test("then / unchanged / prev / window aggregates match brute force after every reading", () => {
    fc.assert(
      fc.property(readings, (rs) => {
        const d = new Device(rules)
        let t = 0
        const seen: Array<{ t: number; speed: number; accel: number; door: number }> = []
        let heldOpen = false
        for (const r of rs) {
          t += r.dt
          seen.push({ t, speed: r.speed, accel: r.accel, door: r.door })
          d.read([{ at: t / 1000, values: { speed_kmh: r.speed, accel_x_ms2: r.accel, door_front_open: r.door } }])
          const open = new Set((d.kind.query(d.state, {}) as { alerts: Array<{ rule: string }> }).alerts.map((a) => a.rule))
          const i = seen.length - 1
          const now = seen[i]!
          const seq = now.door === 1 && seen.slice(0, i).some((s) => s.accel < 0 && now.t - s.t <= 5000)
          let changed = 0
          for (let j = 1; j <= i; j++) if (seen[j]!.speed !== seen[j - 1]!.speed) changed = j
          const stuck = now.t - seen[changed]!.t >= 3000
          const slowing = i > 0 && seen[i - 1]!.speed > now.speed
          const win = seen.filter((s) => s.t > now.t - 4000).map((s) => s.speed)
          const busy = win.length >= 3 && Math.max(...win) - Math.min(...win) >= 2
          // seq_held opens like seq but closes only on a speed-3 reading (and cannot reopen on that same reading)
          if (heldOpen) heldOpen = now.speed !== 3
          else heldOpen = seq
          expect(open.has("seq_held")).toBe(heldOpen)
          expect({ seq: open.has("seq"), stuck: open.has("stuck"), slowing: open.has("slowing"), busy: open.has("busy") }).toEqual({ seq, stuck, slowing, busy })
        }
      }),
      { numRuns: 200 },
    )
  }, 60_000) // a property run: ~1 s alone, several times that on a loaded 2-core machine
})
