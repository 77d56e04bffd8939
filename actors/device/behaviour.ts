import type { DeviceSchema } from "../../config/device-schema.ts"
import type { CompiledRule } from "../../config/rules/index.ts"
import type { ActorContext, ActorKind } from "../../runtime/actor-kind.ts"
import { alertSubject, type AlertTransition, type Severity } from "../../runtime/alert.ts"
import type { ReadingBatch } from "../../runtime/batch.ts"
import type { RuleSetHolder } from "./holder.ts"
import { makeDeviceMetrics, type DeviceMetrics } from "./metrics.ts"
import { queryState } from "./query.ts"
import { migrate, newDeviceState, Phase, restoreState, snapshotState, type DeviceState, type RuleState } from "./state.ts"

/** The device actor kind plus its counters. */
export interface DeviceKind extends ActorKind<DeviceState> {
  readonly metrics: DeviceMetrics
  readonly holder: RuleSetHolder
}

/** Options of {@link makeDeviceKind}. */
export interface DeviceKindOptions {
  /** Actor kind name (address `<name>/<device id>`). */
  readonly name?: string
}

/**
 * The device actor: per device, drops duplicate seqs, applies the lateness policy, updates the
 * windows the active rules need, evaluates the compiled rules and publishes alert transitions
 * (raised → escalated → cleared, deterministic ids). Rule sets are read from `holder`; a new
 * version is picked up between two readings of a device, keeping the state of unchanged rules.
 * Pure: time comes from `ctx.now`, output goes through `ctx`.
 */
export const makeDeviceKind = (schema: DeviceSchema, holder: RuleSetHolder, opts: DeviceKindOptions = {}): DeviceKind => {
  const metrics = makeDeviceMetrics()
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

  const syncRuleSet = (st: DeviceState, ctx: ActorContext, at: number, recvAt: number) => {
    if (st.version !== holder.version || st.set !== holder.current) {
      migrate(st, holder.current, holder.version)
      metrics.migrations++
    }
    if (st.orphans.length) {
      for (const o of st.orphans) {
        emit(st, ctx, o.rule, o.alertId, "cleared", o.severity, at, 0, recvAt, `${o.rule} cleared: ${o.reason}`, {}, [])
        metrics.clearedByReload++
      }
      st.orphans.length = 0
    }
  }

  /** Runs one rule's lifecycle at time t; `v`/`o` is the row (the reading, or the latest values on ticks). */
  const step = (st: DeviceState, r: CompiledRule, rs: RuleState, v: Float64Array, o: number, t: number, tick: boolean, seq: number, recvAt: number, ctx: ActorContext) => {
    const p = st.binding.params
    if (rs.phase < Phase.open) {
      if (!r.when(v, o, p, st.windows, st.T, rs.slots, t, tick)) { rs.phase = Phase.idle; return }
      if (rs.phase === Phase.idle) { rs.phase = Phase.pending; rs.since = t }
      if (t - rs.since < r.spec.forMs) return
      rs.phase = Phase.open
      rs.openedAt = t
      rs.alertId = `${st.id}:${r.name}:${seq || st.lastSeq}`
      rs.severity = r.severity
      rs.esc = 0
      metrics.raised++
      const vals = r.values(v, o, p, st.windows, st.T, rs.slots, t)
      emit(st, ctx, r.name, rs.alertId, "raised", rs.severity, t, seq, recvAt, describe(r, vals, "raised"), vals, r.channels)
      return
    }
    while (rs.esc < r.escalate.length && t - rs.openedAt >= r.escalate[rs.esc]!.afterMs) {
      rs.severity = r.escalate[rs.esc++]!.severity
      metrics.escalated++
      const vals = r.values(v, o, p, st.windows, st.T, rs.slots, t)
      emit(st, ctx, r.name, rs.alertId, "escalated", rs.severity, t, seq, recvAt, describe(r, vals, `escalated to ${rs.severity}`), vals, r.channels)
    }
    const clear = r.clear ? r.clear(v, o, p, st.windows, st.T, rs.slots, t, tick) : !r.when(v, o, p, st.windows, st.T, rs.slots, t, tick)
    if (!clear) { rs.phase = Phase.open; return }
    if (rs.phase === Phase.open) { rs.phase = Phase.clearing; rs.since = t }
    if (t - rs.since < r.spec.clearForMs) return
    metrics.cleared++
    const vals = r.values(v, o, p, st.windows, st.T, rs.slots, t)
    emit(st, ctx, r.name, rs.alertId, "cleared", rs.severity, t, seq, recvAt, describe(r, vals, "cleared"), vals, r.channels)
    rs.phase = Phase.idle
  }

  const kind: DeviceKind = {
    name: opts.name ?? "device",
    metrics,
    holder,
    create: (id) => newDeviceState(id, holder.current, holder.version),

    onReading(st, batch: ReadingBatch, i, ctx) {
      const seq = batch.seqs[i]!
      if (seq <= st.lastSeq) { metrics.duplicates++; return }
      st.lastSeq = seq
      metrics.readings++
      ctx.store(batch, i)
      let t = batch.ts[i]!
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
      const specs = set.windows
      const wins = st.windows
      for (let w = 0; w < wins.length; w++) {
        const x = v[o + specs[w]!.field]!
        if (x === x) wins[w]!.push(t, x)
        else wins[w]!.evict(t)
      }
      const rules = set.rules
      const enabled = st.binding.enabled
      for (let r = 0; r < rules.length; r++) {
        if (enabled[r] === 1) step(st, rules[r]!, st.rules[r]!, v, o, t, false, seq, batch.recvAt, ctx)
      }
    },

    onTick(st, ctx) {
      if (st.maxTs === -Infinity) return
      metrics.ticks++
      // The device clock advanced by the processing time elapsed since its newest reading.
      const t = st.maxTs + Math.max(0, ctx.now - st.lastArrival)
      syncRuleSet(st, ctx, t, 0)
      const rules = st.set.rules
      for (let r = 0; r < rules.length; r++) {
        const rule = rules[r]!
        const rs = st.rules[r]!
        if (st.binding.enabled[r] !== 1) continue
        if (rule.timed) step(st, rule, rs, st.latest, 0, t, true, 0, 0, ctx)
        else if (rs.phase >= Phase.open && rs.esc < rule.escalate.length && t - rs.openedAt >= rule.escalate[rs.esc]!.afterMs) {
          // Escalation is timed: it must not wait for the next reading of a device that went quiet.
          while (rs.esc < rule.escalate.length && t - rs.openedAt >= rule.escalate[rs.esc]!.afterMs) {
            rs.severity = rule.escalate[rs.esc++]!.severity
            metrics.escalated++
            emit(st, ctx, rule.name, rs.alertId, "escalated", rs.severity, t, 0, 0, `${rule.name} escalated to ${rs.severity}: open for ${Math.round((t - rs.openedAt) / 1000)}s`, {}, rule.channels)
          }
        }
      }
    },

    snapshot: snapshotState,
    restore: (id, snap) => restoreState(id, snap, holder.current, holder.version),
    query: (st, request) => queryState(st, fieldNames, request),
    canPassivate(st, now) {
      const set = st.set
      for (let r = 0; r < st.rules.length; r++) {
        const rs = st.rules[r]!
        if (rs.phase === Phase.pending || rs.phase === Phase.clearing) return false
        const rule = set.rules[r]!
        // A timed rule that has not fired yet still needs ticks until its horizon passes.
        if (rule.timed && rs.phase === Phase.idle && st.binding.enabled[r] === 1 && now - st.lastArrival <= rule.timerMs) return false
      }
      return true
    },
  }
  return kind
}
