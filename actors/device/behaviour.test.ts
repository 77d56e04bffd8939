import { describe, expect, test } from "bun:test"
import { checkpointCodec } from "../../runtime/checkpoints.ts"
import type { DeviceSnapshotV3 } from "./snapshot-flat.ts"
import { keyedSnapshot, snapshotState, type DeviceSnapshot, type DeviceSnapshotV1, type DeviceState } from "./state.ts"
import { Device, compileOrFail } from "./testing.ts"

// Snapshots travel in checkpoints, packed with the checkpoint codec (typed arrays as raw bytes).
const pack = (x: unknown) => checkpointCodec.pack(x)
const unpack = (b: Uint8Array) => checkpointCodec.unpack(b) as unknown

/** The snapshot as version 1 wrote it before: number arrays, and each window with its own copy of its timeline. */
const asVersion1 = (s: DeviceSnapshot): DeviceSnapshotV1 => ({
  ...s, v: 1, latest: Array.from(s.latest),
  windows: s.windows.map(({ timeline, xs, ...w }) => ({ ...w, ts: Array.from(s.timelines[timeline]!), xs: Array.from(xs) })),
})

const hot = `
rules:
  hot:
    when: avg(coolant_temp_c, 10s) > 100
    for: 30s
    clear: avg(coolant_temp_c, 10s) < 95
    clear_for: 5s
    severity: warning
    escalate: [{ after: 20s, severity: critical }]
    channels: [email]
`
const coolant = (at: number) => ({ coolant_temp_c: at < 10 ? 90 : at <= 60 ? 110 : at <= 80 ? 98 : 80 })

describe("device actor golden scenarios", () => {
  test("window threshold held for 30 s raises, escalates after 20 s, and clears only below the hysteresis band", () => {
    const d = new Device(hot).series(0, 120, 1, coolant)
    // avg over (t-10s, t] first exceeds 100 at t=15; held 30 s → 45; 98 °C (61–80 s) is inside the
    // band so it stays open; the average drops below 95 at 82 and holds for 5 s → 87.
    expect(d.lines()).toEqual(["raised warning hot @45", "escalated critical hot @65", "cleared critical hot @87"])
    const [raised] = d.ctx.published
    expect(raised!.subject).toBe("akis.alerts.warning.bus-1")
    expect(raised!.payload.alertId).toBe("bus-1:hot:46")
    expect(raised!.msgId).toBe("bus-1:hot:46:raised:warning")
    expect(raised!.payload.channels).toEqual(["email"])
    expect(raised!.payload.values["avg(coolant_temp_c, 10s)"]).toBeCloseTo(110)
    expect(d.ctx.published[2]!.payload.alertId).toBe("bus-1:hot:46")
  })

  test("a condition that breaks before its for: duration raises nothing", () => {
    const d = new Device(hot).series(0, 25, 1, { coolant_temp_c: 110 }).series(26, 45, 1, { coolant_temp_c: 50 }).series(46, 70, 1, { coolant_temp_c: 110 })
    expect(d.lines()).toEqual([])
  })

  test("absence fires from timer ticks, escalates while silent, and clears on the next reading", () => {
    const d = new Device(`
rules:
  silent:
    when: absent(60s)
    escalate: [{ after: 10s, severity: critical }]
`).series(0, 10, 1, { speed_kmh: 30 })
    d.tickUntil(95)
    d.read([{ at: 100, values: { speed_kmh: 30 } }])
    expect(d.lines()).toEqual(["raised warning silent @70", "escalated critical silent @80", "cleared critical silent @100"])
    expect(d.ctx.published[0]!.payload.seq).toBe(0)
    expect(d.ctx.published[0]!.payload.alertId).toBe("bus-1:silent:11")
  })

  test("no change of a field for a duration (stuck sensor) raises, and a change clears", () => {
    const d = new Device(`
rules:
  stuck:
    when: unchanged(coolant_temp_c, 30s) and engine_rpm > 600
`).series(0, 50, 1, { coolant_temp_c: 90, engine_rpm: 800 }).series(51, 52, 1, { coolant_temp_c: 91, engine_rpm: 800 })
    expect(d.lines()).toEqual(["raised warning stuck @30", "cleared warning stuck @51"])
  })

  test("stuck sensor is also detected by ticks when readings stop", () => {
    const d = new Device(`
rules:
  stuck:
    when: unchanged(coolant_temp_c, 30s)
`).series(0, 10, 1, { coolant_temp_c: 90 })
    d.tickUntil(45)
    expect(d.lines()).toEqual(["raised warning stuck @30"])
  })

  test("A then B within a duration matches only when B follows A in time", () => {
    const d = new Device(`
rules:
  brake_door:
    when: accel_x_ms2 < -4 then door_front_open within 10s
    clear: not door_front_open
`).read([
      { at: 0, values: { accel_x_ms2: -5, door_front_open: 0 } },
      { at: 5, values: { accel_x_ms2: 0, door_front_open: 1 } },
      { at: 6, values: { accel_x_ms2: 0, door_front_open: 0 } },
      { at: 20, values: { accel_x_ms2: 0, door_front_open: 1 } },
      { at: 21, values: { accel_x_ms2: 0, door_front_open: 0 } },
      { at: 30, values: { accel_x_ms2: -6, door_front_open: 1 } },
      { at: 45, values: { accel_x_ms2: 0, door_front_open: 1 } },
    ])
    expect(d.lines()).toEqual(["raised warning brake_door @5", "cleared warning brake_door @6"])
  })

  test("group parameters and group-only rules follow the device id globs", () => {
    const src = `
params: { max_p: 80 }
groups:
  minibus: { match: "mini-*", params: { max_p: 30 } }
rules:
  crowded:
    when: passenger_count > $max_p
  mini_only:
    when: passenger_count > 10
    groups: [minibus]
`
    const mini = new Device(src, "mini-7").read([{ at: 0, values: { passenger_count: 40 } }])
    const big = new Device(src, "bus-1").read([{ at: 0, values: { passenger_count: 40 } }])
    expect(mini.lines()).toEqual(["raised warning crowded @0", "raised warning mini_only @0"])
    expect(big.lines()).toEqual([])
  })

  test("EWMA deviation and window z-score flag a value far from recent behaviour", () => {
    const d = new Device(`
rules:
  jump:
    when: abs(ewma_z(engine_load_pct, 20s)) > 4 and abs(zscore(engine_load_pct, 30s)) > 2
`).series(0, 60, 1, (at) => ({ engine_load_pct: 50 + (at % 2) }))
    expect(d.lines()).toEqual([])
    d.read([{ at: 61, values: { engine_load_pct: 95 } }])
    expect(d.lines()).toEqual(["raised warning jump @61"])
  })

  test("duplicates are dropped and counted; late readings are clamped or discarded by the lateness bound, and counted", () => {
    const d = new Device(`
lateness: 2s
rules:
  fast:
    when: max(speed_kmh, 60s) > 100
`)
    // A resend is a copy (same seq, same ts); the same seq with a later ts is a restarted count (dedup.ts).
    d.read([{ at: 10, seq: 1, values: { speed_kmh: 10 } }, { at: 10, seq: 1, values: { speed_kmh: 10 } }])
    expect(d.kind.metrics.duplicates).toBe(1)
    d.read([{ at: 9.5, seq: 2, values: { speed_kmh: 20 } }]) // 1.5 s late: enters windows at t=10
    d.read([{ at: 5, seq: 3, values: { speed_kmh: 150 } }]) // 5 s late: stored only
    expect(d.kind.metrics).toMatchObject({ readings: 3, duplicates: 1, lateClamped: 1, lateDiscarded: 1 })
    expect(d.ctx.stored).toBe(3)
    expect(d.lines()).toEqual([])
    const q = d.kind.query(d.state, {}) as { windows: Record<string, { count: number; max: number }>; latest: Record<string, number> }
    expect(q.windows["speed_kmh:60000ms"]).toMatchObject({ count: 2, max: 20 })
    expect(q.latest.speed_kmh).toBe(20)
  })

  test("a replay of the same readings yields the same transition ids", () => {
    const a = new Device(hot).series(0, 120, 1, coolant)
    const b = new Device(hot).series(0, 120, 1, coolant)
    expect(b.ctx.published.map((p) => p.msgId)).toEqual(a.ctx.published.map((p) => p.msgId))
  })
})

describe("device actor state", () => {
  test("query answers latest values, window aggregates and open alerts", () => {
    const d = new Device(hot).series(0, 50, 1, coolant)
    const q = d.kind.query(d.state, {}) as Record<string, unknown>
    expect(q).toMatchObject({ id: "bus-1", lastSeq: 51, ruleVersion: 1, latest: { coolant_temp_c: 110 } })
    expect(q.alerts).toEqual([{ rule: "hot", alertId: "bus-1:hot:46", severity: "warning", openedAt: Device.t0 + 45_000, clearing: false }])
    expect((q.windows as Record<string, { avg: number; count: number }>)["coolant_temp_c:10000ms"]).toMatchObject({ avg: 110, count: 10 })
    expect(JSON.parse(JSON.stringify(q))).toEqual(q)
  })

  // Two windows of one duration (10 s) share a timeline; a version 1 snapshot has them twice.
  const pack20 = `
rules:
  hot:
    when: avg(coolant_temp_c, 10s) > 100 and stddev(coolant_temp_c, 20s) < 30
    for: 30s
    clear: avg(coolant_temp_c, 10s) < 95
  seq:
    when: accel_x_ms2 < -4 then door_front_open within 10s
  ewm:
    when: abs(ewma_z(coolant_temp_c, 5s)) > 3
  stuck:
    when: unchanged(engine_rpm, 20s)
  revving:
    when: avg(engine_rpm, 10s) > 2000
`
  const values = (at: number) => ({ ...coolant(at), accel_x_ms2: at % 17 === 0 ? -5 : 0, door_front_open: at % 17 === 3 ? 1 : 0, engine_rpm: at < 70 ? 800 : 800 + at })

  test.each([
    ["a snapshot", (st: DeviceState): unknown => snapshotState(st)],
    ["a version 2 snapshot (keyed) from an older checkpoint", keyedSnapshot],
    ["a version 1 snapshot (number arrays) from an older checkpoint", (st: DeviceState) => asVersion1(keyedSnapshot(st))],
  ])("%s → msgpack → restore continues exactly like the original", (_, form) => {
    const a = new Device(pack20).series(0, 50, 0.5, values)
    const snap = unpack(pack(form(a.state)))
    const b = new Device(pack20)
    b.state = b.kind.restore("bus-1", snap, b.ctx)
    b.ctx.now = a.ctx.now
    b.seq = a.seq
    const before = a.ctx.published.length
    for (const d of [a, b]) d.series(50.5, 150, 0.5, values)
    expect(b.lines()).toEqual(a.lines().slice(before))
    expect(b.lines().length).toBeGreaterThan(0)
    expect(b.kind.query(b.state, {})).toEqual(a.kind.query(a.state, {}))
  })

  test("a snapshot is one Float64Array and its rule set's layout, and survives the checkpoint codec bit for bit", () => {
    const a = new Device(pack20).series(0, 50, 0.5, values)
    const s = a.kind.snapshot(a.state) as DeviceSnapshotV3
    expect(s.v).toBe(3)
    expect(s.f).toBeInstanceOf(Float64Array)
    expect(JSON.parse(s.layout).windows.sort()).toEqual(["coolant_temp_c:10000", "coolant_temp_c:20000", "engine_rpm:10000"])
    const back = unpack(pack(s)) as DeviceSnapshotV3
    expect(back.f).toBeInstanceOf(Float64Array)
    expect(pack(back)).toEqual(pack(s))
  })

  test("the keyed (version 2) form holds window data as Float64Arrays, each duration's timeline once, and survives the checkpoint codec", () => {
    const a = new Device(pack20).series(0, 50, 0.5, values)
    const s = keyedSnapshot(a.state)
    expect(s.windows.map((w) => w.key).sort()).toEqual(["coolant_temp_c:10000", "coolant_temp_c:20000", "engine_rpm:10000"])
    expect(s.timelines.map((t) => t.length).sort((x, y) => x - y)).toEqual([20, 40]) // 10 s and 20 s at 2 Hz
    expect(new Set(s.windows.filter((w) => w.key.endsWith(":10000")).map((w) => w.timeline)).size).toBe(1)
    const back = unpack(pack(s)) as DeviceSnapshot
    expect(back.timelines[0]).toBeInstanceOf(Float64Array)
    expect(back.windows[0]!.xs).toBeInstanceOf(Float64Array)
    expect(pack(back)).toEqual(pack(s)) // bit for bit (toEqual on typed arrays holding NaN is not)
  })

  test("a hot swap keeps windows and open alerts of unchanged rules, and closes alerts of changed ones", () => {
    const v1 = `
params: { limit: 100 }
rules:
  hot:
    when: avg(coolant_temp_c, 10s) > $limit
  fast:
    when: speed_kmh > 80
  crowded:
    when: passenger_count > 50
`
    const d = new Device(v1).series(0, 20, 1, { coolant_temp_c: 110, speed_kmh: 90, passenger_count: 60 })
    expect(d.lines()).toEqual(["raised warning hot @0", "raised warning fast @0", "raised warning crowded @0"])
    // v2: a parameter value change (hot keeps its state), fast's condition changes, crowded is removed, a new rule.
    d.holder.swap(compileOrFail(v1.replace("limit: 100", "limit: 105").replace("speed_kmh > 80", "speed_kmh > 85").replace(/  crowded:\n.*\n/, "  cold:\n    when: min(coolant_temp_c, 10s) < 0\n")), 2)
    d.read([{ at: 21, values: { coolant_temp_c: 110, speed_kmh: 90, passenger_count: 60 } }])
    // The window survived (10 s of readings, not 1) and min(), new in v2, was rebuilt from it.
    const q = d.kind.query(d.state, {}) as { windows: Record<string, Record<string, number>> }
    expect(q.windows["coolant_temp_c:10000ms"]).toMatchObject({ count: 10, avg: 110, min: 110 })
    const after = d.ctx.published.slice(3).map((p) => `${p.payload.kind} ${p.payload.rule} ${p.payload.alertId} v${p.payload.ruleVersion}: ${p.payload.message}`)
    expect(after).toEqual([
      "cleared fast bus-1:fast:1 v2: fast cleared: rule changed in version 2",
      "cleared crowded bus-1:crowded:1 v2: crowded cleared: rule removed in version 2",
      expect.stringMatching(/^raised fast bus-1:fast:22 v2/),
    ])
    expect((d.kind.query(d.state, {}) as { alerts: Array<{ alertId: string }> }).alerts.map((a) => a.alertId)).toEqual(["bus-1:hot:1", "bus-1:fast:22"])
    expect(d.kind.metrics.migrations).toBe(1)
  })

  test("nextTimer of a device with an absence rule is its absence deadline, until the horizon passes", () => {
    const d = new Device(`
rules:
  silent:
    when: absent(60s)
  stuck:
    when: unchanged(coolant_temp_c, 90s)
`).read([{ at: 0, values: { coolant_temp_c: 80 } }])
    // absent(60s) cannot fire before 60 s of silence, unchanged(…, 90s) not before 90 s after the
    // value's last change: the earlier of the two.
    expect(d.kind.nextTimer!(d.state, Device.t0 + 30_000)).toBe(Device.t0 + 60_000)
    // unchanged(…) counts from the value's last change (10 s here): an `and` cannot be true before
    // 100 s; an `or` with an untimed side has no bound (ticked now).
    const readings = [{ at: 0, values: { coolant_temp_c: 80, engine_rpm: 800 } }, { at: 10, values: { coolant_temp_c: 81, engine_rpm: 800 } }, { at: 20, values: { coolant_temp_c: 81, engine_rpm: 800 } }]
    const stuck = new Device("rules:\n  stuck:\n    when: unchanged(coolant_temp_c, 90s) and engine_rpm > 600\n").read(readings)
    expect(stuck.kind.nextTimer!(stuck.state, Device.t0 + 30_000)).toBe(Device.t0 + 100_000)
    const either = new Device("rules:\n  either:\n    when: unchanged(coolant_temp_c, 90s) or engine_rpm > 6000\n").read(readings)
    expect(either.kind.nextTimer!(either.state, Device.t0 + 30_000)).toBe(Device.t0 + 30_000)
    expect(d.kind.nextTimer!(d.state, Device.t0 + 91_000)).toBe(Infinity)
    const only = new Device("rules:\n  silent:\n    when: absent(60s)\n").read([{ at: 0, values: {} }])
    expect(only.kind.nextTimer!(only.state, Device.t0 + 30_000)).toBe(Device.t0 + 60_000)
    expect(only.kind.nextTimer!(only.state, Device.t0 + 61_000)).toBe(Infinity)
  })

  test("nextTimer of an open alert is its next escalation step, then nothing", () => {
    const d = new Device(hot).series(0, 50, 1, coolant)
    // raised at 45 (device time = processing time here), escalates 20 s later
    expect(d.kind.nextTimer!(d.state, d.ctx.now)).toBe(Device.t0 + 65_000)
    d.series(51, 70, 1, coolant) // escalated at 65: nothing timed is left
    expect(d.kind.nextTimer!(d.state, d.ctx.now)).toBe(Infinity)
  })

  test("nextTimer of a pending or clearing timed rule is the end of its for / clear_for", () => {
    const d = new Device(`
rules:
  silent:
    when: absent(10s)
    for: 5s
`).read([{ at: 0, values: {} }])
    d.tickUntil(12) // absent since 10, pending until 15
    expect(d.kind.nextTimer!(d.state, d.ctx.now)).toBe(Device.t0 + 15_000)
    d.tickUntil(16)
    expect(d.lines()).toEqual(["raised warning silent @15"])
    expect(d.kind.nextTimer!(d.state, d.ctx.now)).toBe(Infinity)
  })
})

describe("device actor edge cases", () => {
  test.each([
    ["a snapshot", (st: DeviceState): unknown => snapshotState(st)],
    ["a version 2 snapshot", keyedSnapshot],
  ])("%s restored where its unchanged rule no longer applies to the device closes the open alert on the next reading", (_, form) => {
    const rules = (glob: string) => `groups:\n  g:\n    match: "${glob}"\nrules:\n  fast:\n    when: speed_kmh > 80\n    groups: [g]\n`
    const a = new Device(rules("bus-*")).read([{ at: 0, values: { speed_kmh: 90 } }])
    expect(a.lines()).toEqual(["raised warning fast @0"])
    const b = new Device(rules("car-*"))
    b.state = b.kind.restore("bus-1", unpack(pack(form(a.state))), b.ctx)
    b.seq = 1
    b.read([{ at: 1, values: { speed_kmh: 90 } }])
    expect(b.ctx.published.map((p) => `${p.payload.kind} ${p.payload.alertId} ${p.payload.message}`)).toEqual([
      "cleared bus-1:fast:1 fast cleared: rule no longer applies to this device in version 1",
    ])
  })

  test("restoring a snapshot under a rule set where its rule changed closes the open alert on the next reading", () => {
    const a = new Device("rules:\n  fast:\n    when: speed_kmh > 80\n").read([{ at: 0, values: { speed_kmh: 90 } }])
    const snap = unpack(pack(a.kind.snapshot(a.state)))
    const b = new Device("rules:\n  fast:\n    when: speed_kmh > 85\n")
    b.state = b.kind.restore("bus-1", snap, b.ctx)
    b.seq = 1
    b.read([{ at: 1, values: { speed_kmh: 90 } }])
    expect(b.ctx.published.map((p) => `${p.payload.kind} ${p.payload.alertId} ${p.payload.message}`)).toEqual([
      "cleared bus-1:fast:1 fast cleared: rule changed or removed in version 1",
      expect.stringMatching(/^raised bus-1:fast:2 /),
    ])
  })

  test("a snapshot that is not a device snapshot is refused with a tagged error", () => {
    const d = new Device("rules:\n  fast:\n    when: speed_kmh > 80\n")
    expect(() => d.kind.restore("bus-1", { v: 7 }, d.ctx)).toThrow(expect.objectContaining({ _tag: "DeviceSnapshotInvalid" }))
  })

  test("a reading whose width does not match the schema is stored but not evaluated, and counted", () => {
    const d = new Device("rules:\n  fast:\n    when: speed_kmh > 80\n")
    d.kind.onReading(d.state, { ids: ["bus-1"], seqs: Float64Array.of(1), ts: Float64Array.of(1), width: 2, values: Float64Array.of(90, 90), schema: 9, recvAt: 0 }, 0, d.ctx)
    expect(d.kind.metrics.schemaMismatch).toBe(1)
    expect(d.ctx.stored).toBe(1)
    expect(d.lines()).toEqual([])
  })

  test("a reading stamped far in the future is stored but cannot poison the device clock", () => {
    const d = new Device("rules:\n  fast:\n    when: max(speed_kmh, 60s) > 80\n")
    d.read([{ at: 0, values: { speed_kmh: 10 } }])
    d.ctx.now = Device.t0 // processing time stays at t0 while the device claims t0 + 1 day
    d.kind.onReading(d.state, { ids: ["bus-1"], seqs: Float64Array.of(2), ts: Float64Array.of(Device.t0 + 86_400_000), width: d.state.latest.length, values: new Float64Array(d.state.latest.length).fill(100), schema: 1, recvAt: 0 }, 0, d.ctx)
    d.seq = 2
    d.read([{ at: 1, values: { speed_kmh: 90 } }])
    expect(d.kind.metrics).toMatchObject({ futureDiscarded: 1, lateDiscarded: 0 })
    expect(d.ctx.stored).toBe(3)
    expect(d.lines()).toEqual(["raised warning fast @1"])
  })

  test("windows empty out on ticks while a device is silent", () => {
    const d = new Device("rules:\n  dried_up:\n    when: count(speed_kmh, 10s) == 0 and not absent(60s)\n").series(0, 10, 1, { speed_kmh: 30 })
    d.tickUntil(30)
    const q = d.kind.query(d.state, {}) as { windows: Record<string, { count: number }> }
    expect(q.windows["speed_kmh:10000ms"]!.count).toBe(0)
    expect(d.lines()).toEqual(["raised warning dried_up @20"])
  })

  test("a timed rule with for: completes on ticks while the device is silent", () => {
    const d = new Device("rules:\n  stuck:\n    when: unchanged(coolant_temp_c, 20s)\n    for: 10s\n").series(0, 5, 1, { coolant_temp_c: 90 })
    d.tickUntil(40)
    expect(d.lines()).toEqual(["raised warning stuck @30"])
  })
})
