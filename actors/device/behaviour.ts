import type { DeviceSchema } from "../../config/device-schema.ts"
import type { CompiledRule } from "./engine/index.ts"
import type { ActorContext, ActorKind } from "../../runtime/actor-kind.ts"
import { alertSubject, type AlertTransition, type Severity } from "../../runtime/alert.ts"
import { noBoot, type ReadingBatch } from "../../runtime/batch.ts"
import { admit, readingKey } from "./dedup.ts"
import type { RuleSetHolder } from "./holder.ts"
import { makeDeviceMetrics, type DeviceMetrics } from "./metrics.ts"
import { queryState } from "./query.ts"
import { migrate, newDeviceState, Phase, restoreState, RS, snapshotState, type DeviceState } from "./state.ts"

/** The device actor kind plus its counters. */
export interface DeviceKind extends ActorKind<DeviceState> {
  readonly metrics: DeviceMetrics
  readonly holder: RuleSetHolder
}

/** Options of {@link makeDeviceKind}. */
export interface DeviceKindOptions {
  /** Actor kind name (address `<name>/<device id>`). */
  readonly name?: string
  /**
   * A reading stamped further than this ahead of processing time (a device clock gone wrong) is
   * stored but kept out of windows and rules, so one bad timestamp cannot make every later
   * reading "late". Default 5 minutes.
   */
  readonly maxFutureMs?: number
}

/**
 * The device actor: per device, drops resends by (boot, seq) (dedup.ts), applies the lateness policy, updates the
 * windows the active rules need, evaluates the compiled rules and publishes alert transitions
 * (raised → escalated → cleared, deterministic ids). Rule sets are read from `holder`; a new
 * version is picked up between two readings of a device, keeping the state of unchanged rules.
 * Pure: time comes from `ctx.now`, output goes through `ctx`.
 */
/** Written by the prefetch pass so the loads are not optimised away. */
let sink = 0
/** Rules needing a full step for the current reading (handlers run one at a time, so one buffer serves all). */
let queue = new Int32Array(64)
/** The rule registers as they were before a tick (to tell whether it changed any). */
let before = new Float64Array(256)

export const makeDeviceKind = (schema: DeviceSchema, holder: RuleSetHolder, opts: DeviceKindOptions = {}): DeviceKind => {
  const metrics = makeDeviceMetrics()
  const maxFutureMs = opts.maxFutureMs ?? 300_000
  const fieldNames = schema.fields.map((f) => f.name)

  const emit = (
    st: DeviceState, ctx: ActorContext, rule: string, alertId: string, kind: AlertTransition["kind"], severity: Severity,
    at: number, seq: number, recvAt: number, message: string, values: Record<string, number>, channels: ReadonlyArray<string>,
  ) => {
    const t: AlertTransition = {
      id: `${alertId}:${kind}:${severity}`, alertId, device: st.id, rule, kind, severity, at, seq, message, values, channels,
      ruleVersion: st.version, recvAt,
    }
    ctx.publish(alertSubject(t), t, t.id)
  }

  const describe = (r: CompiledRule, vals: Record<string, number>, what: string) => {
    const shown = Object.entries(vals).map(([k, x]) => `${k}=${Number.isInteger(x) ? x : x.toFixed(2)}`).join(", ")
    return `${r.name} ${what}: ${r.spec.whenSource.trim()}${shown ? ` [${shown}]` : ""}`
  }

  /** Moves `st` to the holder's current rule set if it is not on it yet; true when it did. */
  const syncRuleSet = (st: DeviceState, ctx: ActorContext, at: number, recvAt: number): boolean => {
    // Fast path reads only fields of the state object itself (no extra cache line per reading).
    if (st.version === holder.version && st.set === holder.current) return false
    migrate(st, holder.current, holder.version)
    metrics.migrations++
    for (const o of st.orphans) {
      emit(st, ctx, o.rule, o.alertId, "cleared", o.severity, at, 0, recvAt, `${o.rule} cleared: ${o.reason}`, {}, [])
      metrics.clearedByReload++
    }
    st.orphans.length = 0
    return true
  }

  const escalate = (st: DeviceState, r: CompiledRule, ri: number, t: number, seq: number, recvAt: number, ctx: ActorContext, v: Float64Array | undefined, o: number) => {
    const R = st.R
    const b = r.base
    while (R[b + RS.esc]! < r.escalate.length && t - R[b + RS.openedAt]! >= r.escalate[R[b + RS.esc]!]!.afterMs) {
      const step = R[b + RS.esc]!
      R[b + RS.esc] = step + 1
      const sev = (st.severity[ri] = r.escalate[step]!.severity)
      metrics.escalated++
      const vals = v ? r.values(v, o, st.binding.params, st.windows.A, st.T, R, t) : {}
      const what = `escalated to ${sev}`
      emit(st, ctx, r.name, st.alertIds[ri]!, "escalated", sev, t, seq, recvAt, v ? describe(r, vals, what) : `${r.name} ${what}: open for ${Math.round((t - R[b + RS.openedAt]!) / 1000)}s`, vals, r.channels)
    }
  }

  /** Runs rule `ri`'s lifecycle at time t; `v`/`o` is the row (the reading, or the latest values on ticks). */
  const step = (st: DeviceState, r: CompiledRule, ri: number, v: Float64Array, o: number, t: number, tick: boolean, seq: number, recvAt: number, ctx: ActorContext) => {
    const p = st.binding.params
    const R = st.R
    const b = r.base
    const phase = R[b]!
    if (phase < Phase.open) {
      if (!r.when(v, o, p, st.windows.A, st.T, R, t, tick)) { R[b] = Phase.idle; return }
      if (phase === Phase.idle) { R[b] = Phase.pending; R[b + RS.since] = t }
      if (t - R[b + RS.since]! < r.spec.forMs) return
      R[b] = Phase.open
      R[b + RS.openedAt] = t
      R[b + RS.esc] = 0
      const alertId = (st.alertIds[ri] = `${st.id}:${r.name}:${readingKey(st, seq || st.lastSeq)}`)
      st.severity[ri] = r.severity
      metrics.raised++
      const vals = r.values(v, o, p, st.windows.A, st.T, R, t)
      emit(st, ctx, r.name, alertId, "raised", r.severity, t, seq, recvAt, describe(r, vals, "raised"), vals, r.channels)
      return
    }
    if (r.escalate.length) escalate(st, r, ri, t, seq, recvAt, ctx, v, o)
    // Sequence steps inside `when` keep tracking while the alert is open, even when `clear` decides.
    if (r.clear && r.size > 4) r.when(v, o, p, st.windows.A, st.T, R, t, tick)
    const clear = r.clear ? r.clear(v, o, p, st.windows.A, st.T, R, t, tick) : !r.when(v, o, p, st.windows.A, st.T, R, t, tick)
    if (!clear) { R[b] = Phase.open; return }
    if (phase === Phase.open) { R[b] = Phase.clearing; R[b + RS.since] = t }
    if (t - R[b + RS.since]! < r.spec.clearForMs) return
    metrics.cleared++
    const vals = r.values(v, o, p, st.windows.A, st.T, R, t)
    emit(st, ctx, r.name, st.alertIds[ri]!, "cleared", st.severity[ri]!, t, seq, recvAt, describe(r, vals, "cleared"), vals, r.channels)
    R[b] = Phase.idle
  }

  const kind: DeviceKind = {
    name: opts.name ?? "device",
    metrics,
    holder,
    create: (id) => newDeviceState(id, holder.current, holder.version),

    onReading(st, batch: ReadingBatch, i, ctx) {
      const seq = batch.seqs[i]!
      let t = batch.ts[i]!
      if (!admit(st, batch.boots === undefined ? noBoot : batch.boots[i]!, seq, t, metrics)) return
      metrics.readings++
      ctx.store(batch, i)
      if (t > ctx.now + maxFutureMs) { metrics.futureDiscarded++; return }
      if (t < st.maxTs) {
        if (st.maxTs - t > st.set.latenessMs) { metrics.lateDiscarded++; return }
        metrics.lateClamped++
        t = st.maxTs
      }
      syncRuleSet(st, ctx, t, batch.recvAt)
      const set = st.set
      if (batch.width !== set.width) { metrics.schemaMismatch++; return }
      st.maxTs = t
      st.lastArrival = ctx.now
      const v = batch.values
      const o = i * batch.width
      const latest = st.latest
      for (let f = 0; f < set.width; f++) {
        const x = v[o + f]!
        if (x === x) latest[f] = x
      }
      const T = st.T
      T[1] = T[0]!
      T[0] = t
      set.updateTrackers(v, o, T, t)
      const wins = st.windows
      // Prefetch pass: independent loads of every window's hot lines, overlapped by the CPU.
      const R = st.R
      sink = R[0]! + R[R.length >> 1]! + R[R.length - 1]! + st.latest[0]! + st.latest[set.width - 1]! + wins.touch()
      wins.pushRow(t, v, o)
      const rules = set.rules
      if (queue.length < rules.length) queue = new Int32Array(rules.length)
      const n = set.scan(v, o, st.binding.params, wins.A, T, st.R, t, st.binding.enabled, queue)
      for (let q = 0; q < n; q++) {
        const r = queue[q]!
        step(st, rules[r]!, r, v, o, t, false, seq, batch.recvAt, ctx)
      }
    },

    // Returns whether the tick changed anything a snapshot holds: the host then packs the state
    // again, else it reuses the bytes it packed last. What a tick can change: the rule set (a
    // migration), the windows (evictions), the rule registers (phases, times, escalation steps,
    // sequence steps; alert ids and severities change only with them). Trackers move on readings only.
    onTick(st, ctx) {
      if (st.maxTs === -Infinity) return false
      metrics.ticks++
      // The device clock advanced by the processing time elapsed since its newest reading.
      const t = st.maxTs + Math.max(0, ctx.now - st.lastArrival)
      let changed = syncRuleSet(st, ctx, t, 0)
      // Windows cover "the last d of device time": while a device is silent they empty out.
      if (st.windows.evictAll(t)) changed = true
      const R = st.R
      if (before.length < R.length) before = new Float64Array(R.length)
      before.set(R)
      const rules = st.set.rules
      for (let r = 0; r < rules.length; r++) {
        const rule = rules[r]!
        if (st.binding.enabled[r] !== 1) continue
        if (rule.timed) step(st, rule, r, st.latest, 0, t, true, 0, 0, ctx)
        // Escalation is timed: it must not wait for the next reading of a device that went quiet.
        else if (R[rule.base]! >= Phase.open && rule.escalate.length) escalate(st, rule, r, t, 0, 0, ctx, undefined, 0)
      }
      if (!changed) {
        for (let i = 0; i < R.length; i++) {
          const x = R[i]!
          const y = before[i]!
          if (x !== y && (x === x || y === y)) return true // NaN stays NaN: no change
        }
      }
      return changed
    },

    snapshot: snapshotState,
    restore: (id, snap) => restoreState(id, snap, holder.current, holder.version),
    query: (st, request) => queryState(st, fieldNames, request),
    nextTimer(st, now) {
      if (st.maxTs === -Infinity) return Infinity
      // Open alerts of a removed rule are closed by the next tick.
      if (st.orphans.length) return now
      // Ticks run the device clock at maxTs + (now - lastArrival): device time x is processing time at(x).
      const at = (x: number) => st.lastArrival + (x - st.maxTs)
      const rules = st.set.rules
      const R = st.R
      let due = Infinity
      for (let r = 0; r < rules.length; r++) {
        const rule = rules[r]!
        if (st.binding.enabled[r] !== 1) continue
        const b = rule.base
        const phase = R[b]!
        if (phase >= Phase.open && R[b + RS.esc]! < rule.escalate.length) due = Math.min(due, at(R[b + RS.openedAt]! + rule.escalate[R[b + RS.esc]!]!.afterMs))
        // Only timed rules are stepped on ticks; the others move on readings, which wake the actor anyway.
        if (!rule.timed) continue
        if (phase === Phase.idle) {
          // It may fire until its horizon passes, and not before its floor (absent / unchanged durations).
          if (now - st.lastArrival <= rule.timerMs) {
            const floor = rule.floor!(st.T)
            due = Math.min(due, floor === -Infinity ? now : at(floor))
          }
        } else if (phase === Phase.pending) due = Math.min(due, at(R[b + RS.since]! + rule.spec.forMs))
        else if (phase === Phase.clearing) due = Math.min(due, at(R[b + RS.since]! + rule.spec.clearForMs))
      }
      return due
    },
    epoch: () => holder.version,
    // After a tick that changed nothing, the next tick that can change anything is the first at
    // which a timer is due (nextTimer), a window evicts, or a clock-driven term of a timed rule
    // that is not idle (a tick evaluates its when or clear) turns; a tick's other inputs (latest
    // values, trackers, rule registers) hold still until the next reading.
    // (A tick that changed nothing ran syncRuleSet without a migration: st holds the current set.)
    tickDue(st, now) {
      if (st.maxTs === -Infinity) return Infinity
      // Ticks run the device clock at maxTs + (now - lastArrival): device time x is processing time lastArrival + (x - maxTs).
      const t = st.maxTs + Math.max(0, now - st.lastArrival)
      let x = st.windows.evictDue()
      const rules = st.set.rules
      const R = st.R
      for (let r = 0; r < rules.length; r++) {
        const rule = rules[r]!
        if (rule.timed && st.binding.enabled[r] === 1 && R[rule.base] !== Phase.idle) x = Math.min(x, rule.flips!(st.T, R, t))
      }
      return Math.min(st.lastArrival + (x - st.maxTs), kind.nextTimer!(st, now))
    },
  }
  return kind
}
