/**
 * The pure part of `ops bench e2e`: when a ramp step counts as sustained, from the lag samples
 * taken during it, and the percentiles. Kept apart from the processes so it can be tested.
 */

/**
 * One sample during a step: seconds since the step started, readings acked so far, stored so far,
 * and (when the simulator reports it) readings its devices have sent that are not acked yet.
 */
export interface LagSample {
  readonly t: number
  readonly acked: number
  readonly stored: number
  readonly unacked?: number
}

/** Means of time, acked, stored and unacked over the samples with `from ≤ t ≤ to` (null when there are none). */
const windowMeans = (samples: ReadonlyArray<LagSample>, from: number, to: number): Required<LagSample> | null => {
  const xs = samples.filter((s) => s.t >= from && s.t <= to)
  const mean = (f: (s: LagSample) => number) => xs.reduce((a, s) => a + f(s), 0) / xs.length
  return xs.length === 0 ? null : { t: mean((s) => s.t), acked: mean((s) => s.acked), stored: mean((s) => s.stored), unacked: mean((s) => s.unacked ?? 0) }
}

export interface StepVerdict {
  /** Mean lag (readings) around the middle of the step and at its end (windows of 10 % of the step, ≥ 6 s). */
  readonly lag_mid: number | null
  readonly lag_end: number | null
  /**
   * Mean readings the devices had sent but not yet seen acked, over the same two windows: the
   * queue in front of the log (socket buffers, the gateway's batches, TCP back-pressure). It
   * grows when the gateways cannot publish what is offered, even while every acked reading is
   * stored in time; null when the simulator did not report it.
   */
  readonly unacked_mid: number | null
  readonly unacked_end: number | null
  /**
   * Readings stored per second from the middle of the step to its end: the difference of the mean
   * stored counts over the same two windows as the lags, over the distance of their centres. The
   * stored count rises in whole inserts (up to one `sink.batchRows` batch per node); a window mean
   * averages several of them, where a least-squares slope (used until 2026-11-26) was swung by
   * the last few samples: 95,268/s for a step whose lag shrank by 135k while 100,437/s were acked.
   */
  readonly stored_per_s: number
  /** stored_per_s ÷ offered. */
  readonly delivered: number
  readonly sustained: boolean
  /** Why not, when not. */
  readonly reason: string | null
}

/**
 * A step is sustained when the pipeline kept up with what was offered: neither queue grew from
 * the middle of the step to its end, the devices' (sent, not yet acked: within `slackS` seconds of
 * the offered load, and at most that much at the end: by Little's law a device then waits about
 * a second for an ACK at most, where a queue built at the step's start and draining slowly still
 * meant ACKs 27 s late) nor the lag behind the log (acked − stored: within `slackS` seconds of the
 * offered load, or `quantum` readings if more: the stored count moves in whole inserts, up to one
 * batch per node at once), the readings stored per second reached
 * `minDelivered` of the offered rate, and everything acked was stored once the step ended (`caughtUp`).
 */
export const judgeStep = (
  o: { offered: number; seconds: number; samples: ReadonlyArray<LagSample>; caughtUp: boolean; slackS?: number; quantum?: number; minDelivered?: number; windowS?: number },
): StepVerdict => {
  const T = o.seconds
  // Lag windows of 10 % of the step, and at least two of the sink's 3 s flush periods (the stored
  // count rises in steps of one flush, so a shorter window sees the sawtooth, not the trend).
  const w = Math.max(0.1 * T, o.windowS ?? 6)
  const mid = windowMeans(o.samples, T / 2 - w / 2, T / 2 + w / 2)
  const end = windowMeans(o.samples, T - w, T)
  const lagMid = mid === null ? null : mid.acked - mid.stored
  const lagEnd = end === null ? null : end.acked - end.stored
  // Stored/s between the same two windows: difference of their mean stored counts over the distance of their mean times.
  const storedPerS = mid && end && end.t > mid.t ? Math.round((end.stored - mid.stored) / (end.t - mid.t)) : 0
  const delivered = storedPerS / o.offered
  const loadSlack = (o.slackS ?? 1) * o.offered
  const slack = Math.max(loadSlack, o.quantum ?? 0)
  const reported = o.samples.some((s) => s.unacked !== undefined)
  const [unackedMid, unackedEnd] = reported && mid && end ? [Math.round(mid.unacked), Math.round(end.unacked)] : [null, null]
  const minDelivered = o.minDelivered ?? 0.9
  const reason =
    lagMid === null || lagEnd === null ? "too few lag samples"
    : unackedMid !== null && unackedEnd! > unackedMid + loadSlack
      ? `the devices' unacked readings grew from ${unackedMid} to ${unackedEnd} (the gateways did not keep up)`
    : unackedEnd !== null && unackedEnd > loadSlack
      ? `the devices still had ${unackedEnd} readings unacked at the end, more than ${o.slackS ?? 1} s of the offered load (ACKs took seconds)`
    : lagEnd > lagMid + slack ? `lag grew from ${Math.round(lagMid)} to ${Math.round(lagEnd)} readings`
    : delivered < minDelivered ? `stored ${storedPerS}/s, under ${Math.round(minDelivered * 100)} % of the offered ${o.offered}/s`
    : !o.caughtUp ? "acked readings not all stored within the catch-up limit"
    : null
  return {
    lag_mid: lagMid === null ? null : Math.round(lagMid), lag_end: lagEnd === null ? null : Math.round(lagEnd), unacked_mid: unackedMid, unacked_end: unackedEnd, stored_per_s: storedPerS, delivered: Math.round(delivered * 1000) / 1000, sustained: reason === null, reason,
  }
}

/**
 * The `p`th percentile of `xs`, the value at index ⌊p/100 · n⌋ of the sorted values (the
 * definition earlier runs used; on 100 alerts the p99 is the slowest); NaN when empty.
 */
export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : Number.NaN
}

/** Median and spread (min, max) of repeated measurements. */
export const medianSpread = (xs: ReadonlyArray<number>): { median: number; min: number; max: number; runs: number } => {
  const s = [...xs].sort((a, b) => a - b)
  const median = s.length === 0 ? Number.NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
  return { median, min: s[0] ?? Number.NaN, max: s.at(-1) ?? Number.NaN, runs: s.length }
}

/** Goals of `ops bench e2e` (issue: 100,000 readings/s). */
export const e2eTargets = { readings_per_s: 100_000, p99_alert_ms: 50, reference_cpu_cores: 0.25 } as const

/** What {@link e2eMisses} reads of a run. */
export interface E2eFigures {
  readonly readings_per_s: number
  readonly p99_alert_ms: number
  readonly reference_readings_per_s: number
  /** Cores by process group at the reference load (nodes, nats, clickhouse, simulator). */
  readonly reference_cpu_cores_by_process: Readonly<Record<string, number>>
  /** The same groups with no device connected. */
  readonly idle_cpu_cores_by_process: Readonly<Record<string, number>>
  /** CPU s per 100k readings by group at the highest sustained step (null: none sustained). */
  readonly best_step_cpu_s_per_100k: Readonly<Record<string, number>> | null
  /** nats-server's messages in per acked reading at the reference load (`/varz`), when measured. */
  readonly reference_nats_msgs_per_reading?: { readonly in: number }
}

/**
 * Each goal the run missed, with the reason its own figures give: for the reference CPU, what the
 * processes that are not akis nodes used by themselves, and what a reading costs the nodes at the
 * reference load against the highest sustained step (one socket read, ACK and JetStream message
 * per reading at 2,000/s against dozens of readings each at 100k/s).
 */
export const e2eMisses = (f: E2eFigures, targets: typeof e2eTargets = e2eTargets): string[] => {
  const misses: string[] = []
  const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)
  const fix2 = (x: number) => x.toFixed(2)
  if (f.readings_per_s < targets.readings_per_s) misses.push(`readings_per_s ${f.readings_per_s} < ${targets.readings_per_s}`)
  if (!(f.p99_alert_ms <= targets.p99_alert_ms)) misses.push(`p99_alert_ms ${f.p99_alert_ms} > ${targets.p99_alert_ms}`)
  const by = f.reference_cpu_cores_by_process
  const total = sum(Object.values(by))
  if (total > targets.reference_cpu_cores) {
    const others = Object.entries(by).filter(([k]) => k !== "nodes")
    const othersCores = Math.round(sum(others.map(([, v]) => v)) * 100) / 100
    const nodes = by.nodes ?? 0
    const usPerReading = (nodes / Math.max(1, f.reference_readings_per_s)) * 1e6
    const atBest = f.best_step_cpu_s_per_100k?.nodes
    misses.push(
      `reference_cpu_cores ${fix2(total)} > ${targets.reference_cpu_cores}: ` +
        `${others.map(([k, v]) => `${k} ${fix2(v)}`).join(", ")} used ${fix2(othersCores)} cores by themselves` +
        `${othersCores >= targets.reference_cpu_cores ? ", the whole goal before any akis node" : ""}` +
        ` (idle, with no device connected: ${Object.entries(f.idle_cpu_cores_by_process).map(([k, v]) => `${k} ${fix2(v)}`).join(", ")}); ` +
        `the nodes ${fix2(nodes)} cores, ${Math.round(usPerReading)} µs of CPU per reading at ${f.reference_readings_per_s}/s` +
        (atBest === undefined ? "" : ` against ${Math.round(atBest * 10)} µs at the highest sustained step: at the reference load each reading is its own socket read, ACK write and JetStream message`) +
        (f.reference_nats_msgs_per_reading === undefined ? "" :
          `; nats-server received ${f.reference_nats_msgs_per_reading.in} messages per reading (a shard's batch is published within gateway.flushMs, ` +
          `so at this rate it holds about one reading, and nats-server's cost goes with its message rate)`),
    )
  }
  return misses
}
