import { describe, expect, test } from "bun:test"
import { e2eMisses, judgeStep, medianSpread, percentile, type LagSample } from "./e2e-verdict.ts"

/** 60 s at `rate` acked per second, stored `lag(t)` readings behind. */
const samples = (rate: number, lag: (t: number) => number): LagSample[] =>
  Array.from({ length: 61 }, (_, t) => ({ t, acked: rate * t, stored: Math.max(0, rate * t - lag(t)) }))

describe("judgeStep", () => {
  test("bounded lag, everything stored: sustained, stored/s is the rate", () => {
    const v = judgeStep({ offered: 1000, seconds: 60, samples: samples(1000, () => 1500), caughtUp: true })
    expect(v).toMatchObject({ sustained: true, lag_mid: 1500, lag_end: 1500, reason: null })
    expect(v.stored_per_s).toBe(1000) // the steady rate: a constant lag does not lower it
  })
  test("stored/s is the rate from the middle of the step to its end, not diluted by a slow start", () => {
    const xs = Array.from({ length: 61 }, (_, t) => ({ t, acked: 1000 * t, stored: t < 10 ? 0 : 1000 * (t - 10) }))
    expect(judgeStep({ offered: 1000, seconds: 60, samples: xs, caughtUp: true }).stored_per_s).toBe(1000)
  })
  test("stored/s through inserts of 300k rows every 3 s is within 3 % of the rate", () => {
    // 100k/s acked; two nodes' 150k-row inserts land together every 3 s, at any phase of the step.
    for (const phase of [0, 1, 2]) {
      const xs = Array.from({ length: 61 }, (_, t) => ({ t, acked: 100_000 * t, stored: Math.floor((t + phase) / 3) * 300_000 }))
      const v = judgeStep({ offered: 100_000, seconds: 60, samples: xs, caughtUp: true, quantum: 300_000 })
      expect(Math.abs(v.stored_per_s - 100_000)).toBeLessThan(3_000)
      expect(v.sustained).toBe(true)
    }
  })
  test("growing lag: not sustained, even when it all gets stored later", () => {
    const v = judgeStep({ offered: 1000, seconds: 60, samples: samples(1000, (t) => 100 * t), caughtUp: true })
    expect(v.sustained).toBe(false)
    expect(v.reason).toContain("lag grew")
  })
  test("a lag that grows by less than one insert per node (quantum) is the sink's batching, not a backlog", () => {
    const jump = samples(1000, (t) => (t > 50 ? 2500 : 500))
    expect(judgeStep({ offered: 1000, seconds: 60, samples: jump, caughtUp: true }).sustained).toBe(false)
    expect(judgeStep({ offered: 1000, seconds: 60, samples: jump, caughtUp: true, quantum: 2000 }).sustained).toBe(true)
    expect(judgeStep({ offered: 1000, seconds: 60, samples: samples(1000, (t) => 100 * t), caughtUp: true, quantum: 2000 }).sustained).toBe(false)
  })
  test("a growing queue of unacked readings at the devices: not sustained, even when the log keeps up", () => {
    // the gateways ack 1,000/s of 1,100/s offered: everything acked is stored at once, but the
    // devices wait longer and longer for their ACKs (100 more readings unacked every second)
    const growing = samples(1000, () => 0).map((s) => ({ ...s, unacked: 100 * s.t }))
    const v = judgeStep({ offered: 1100, seconds: 60, samples: growing, caughtUp: true })
    expect(v).toMatchObject({ sustained: false, unacked_mid: 3000, unacked_end: 5700 })
    expect(v.reason).toContain("unacked readings grew from 3000 to 5700")
    // a steady queue (readings in flight, waiting for their batch's PubAck) is not a backlog
    const steady = samples(1000, () => 0).map((s) => ({ ...s, unacked: 400 + (s.t % 3) * 100 }))
    const w = judgeStep({ offered: 1000, seconds: 60, samples: steady, caughtUp: true })
    expect(w.sustained).toBe(true)
    expect(Math.abs(w.unacked_end! - 500)).toBeLessThan(50)
    // a large queue that shrinks (built at the step's start, draining slowly) is not sustained either:
    // 115k offered, 400k → 320k unacked (ACK p99 27 s in the run that showed it)
    const draining = samples(1000, () => 0).map((s) => ({ ...s, unacked: 4000 - 13 * s.t }))
    expect(judgeStep({ offered: 1000, seconds: 60, samples: draining, caughtUp: true }).reason).toContain("unacked at the end, more than 1 s of the offered load")
    // without the simulator's figure: no verdict on it
    expect(judgeStep({ offered: 1000, seconds: 60, samples: samples(1000, () => 0), caughtUp: true })).toMatchObject({ sustained: true, unacked_mid: null })
  })
  test("acked far below the offered load (back-pressure): not sustained", () => {
    expect(judgeStep({ offered: 2000, seconds: 60, samples: samples(1000, () => 0), caughtUp: true }).reason).toContain("under 90 %")
  })
  test("not caught up, or no samples: not sustained", () => {
    expect(judgeStep({ offered: 1000, seconds: 60, samples: samples(1000, () => 0), caughtUp: false }).sustained).toBe(false)
    expect(judgeStep({ offered: 1000, seconds: 60, samples: [], caughtUp: true }).reason).toBe("too few lag samples")
  })
})

describe("percentile and median", () => {
  test("index ⌊p·n⌋ over every value: the p99 of 100 values is the largest", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1)
    expect([percentile(xs, 50), percentile(xs, 90), percentile(xs, 99), percentile(xs, 100), percentile([7], 99)]).toEqual([51, 91, 100, 100, 7])
    expect(percentile([], 99)).toBeNaN()
  })
  test("median with its spread", () => {
    expect(medianSpread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, runs: 3 })
    expect(medianSpread([4, 1, 2, 3]).median).toBe(2.5)
  })
})

describe("e2eMisses", () => {
  const run = {
    readings_per_s: 113_907, p99_alert_ms: 15.1, reference_readings_per_s: 2_000,
    reference_cpu_cores_by_process: { nodes: 0.29, nats: 0.11, clickhouse: 0.06, simulator: 0.08 },
    idle_cpu_cores_by_process: { nodes: 0.04, nats: 0.01, clickhouse: 0 },
    best_step_cpu_s_per_100k: { nodes: 0.97, nats: 0.33, clickhouse: 0.62, simulator: 0.14 },
  }
  test("a run that meets every goal misses nothing", () => {
    expect(e2eMisses({ ...run, reference_cpu_cores_by_process: { nodes: 0.1, nats: 0.08, clickhouse: 0.02, simulator: 0.04 } })).toEqual([])
  })
  test("the reference CPU miss says what the other processes used alone and what a reading costs the nodes", () => {
    const [miss, ...rest] = e2eMisses(run)
    expect(rest).toEqual([])
    expect(miss).toStartWith("reference_cpu_cores 0.54 > 0.25: nats 0.11, clickhouse 0.06, simulator 0.08 used 0.25 cores by themselves, the whole goal before any akis node")
    expect(miss).toContain("the nodes 0.29 cores, 145 µs of CPU per reading at 2000/s against 10 µs at the highest sustained step")
    expect(miss).not.toContain("messages per reading")
    expect(e2eMisses({ ...run, reference_nats_msgs_per_reading: { in: 0.95 } })[0]).toContain("; nats-server received 0.95 messages per reading (a shard's batch is published within gateway.flushMs")
  })
  test("throughput and latency misses are named with their figures", () => {
    const misses = e2eMisses({ ...run, readings_per_s: 96_910, p99_alert_ms: 62.6, reference_cpu_cores_by_process: { nodes: 0.1 } })
    expect(misses).toEqual(["readings_per_s 96910 < 100000", "p99_alert_ms 62.6 > 50"])
    expect(e2eMisses({ ...run, p99_alert_ms: Number.NaN, reference_cpu_cores_by_process: {} })).toEqual(["p99_alert_ms NaN > 50"])
  })
})
