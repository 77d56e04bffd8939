import type { CompiledRuleSet, DeviceBinding, TrackerSpec } from "../../config/rules/index.ts"
import { severities, type Severity } from "../../runtime/alert.ts"
import { DeviceSnapshotInvalid } from "./errors.ts"
import { SlidingWindow, type WindowSnapshot } from "./window.ts"

/** Alert phase of one rule on one device. */
export const Phase = { idle: 0, pending: 1, open: 2, clearing: 3 } as const

/** State of one rule on one device: its alert lifecycle and its own slots (sequence steps). */
export interface RuleState {
  readonly identity: string
  phase: number
  /** When the condition started holding (pending) or the clear condition started holding (clearing). */
  since: number
  openedAt: number
  alertId: string
  severity: Severity
  /** Escalation steps applied. */
  esc: number
  readonly slots: Float64Array
}

/** An open alert whose rule is gone or changed; closed (with a `cleared` transition) at the next reading or tick. */
export interface OrphanAlert {
  readonly rule: string
  readonly alertId: string
  readonly severity: Severity
  readonly reason: string
}

/** Everything a device actor keeps. Mutable, owned by the shard host; plain data except windows. */
export interface DeviceState {
  readonly id: string
  set: CompiledRuleSet
  version: number
  binding: DeviceBinding
  lastSeq: number
  /** Newest accepted event time (ms); windows and rules run on this clock. */
  maxTs: number
  /** Processing time (ctx.now) when `maxTs` arrived; ticks extrapolate the device clock from it. */
  lastArrival: number
  /** Newest known value per field (NaN until first seen). */
  latest: Float64Array
  windows: SlidingWindow[]
  /** Tracker slots; T[0] newest reading time, T[1] the one before. */
  T: Float64Array
  rules: RuleState[]
  orphans: OrphanAlert[]
}

const initTracker = (T: Float64Array, t: TrackerSpec) => T.fill(t.kind === "ewma" ? 0 : NaN, t.offset, t.offset + t.size)

const freshRule = (identity: string, slots: number): RuleState => ({
  identity, phase: Phase.idle, since: 0, openedAt: 0, alertId: "", severity: "info", esc: 0, slots: new Float64Array(slots).fill(-Infinity),
})

/** A new device with no history, bound to `set`. */
export const newDeviceState = (id: string, set: CompiledRuleSet, version: number): DeviceState => {
  const T = new Float64Array(set.trackerSlots).fill(NaN)
  for (const t of set.trackers) initTracker(T, t)
  return {
    id, set, version, binding: set.bind(id), lastSeq: -Infinity, maxTs: -Infinity, lastArrival: 0,
    latest: new Float64Array(set.width).fill(NaN),
    windows: set.windows.map((w) => new SlidingWindow(w.key, w.ms, w.moments, w.extremes)),
    T, rules: set.rules.map((r) => freshRule(r.identity, r.slots)), orphans: [],
  }
}

const isOpen = (r: RuleState) => r.phase === Phase.open || r.phase === Phase.clearing

/**
 * Moves a device to another rule set: windows are kept by (field, duration), trackers by key and
 * rule state by rule identity (name + hash of its semantics), so a changed threshold parameter or
 * an untouched rule keeps its window and open alert. Open alerts of changed, removed or
 * no-longer-applicable rules become orphans, cleared by the caller.
 */
export const migrate = (st: DeviceState, set: CompiledRuleSet, version: number): void => {
  const oldWindows = new Map(st.windows.map((w) => [w.key, w]))
  st.windows = set.windows.map((spec) => {
    const w = oldWindows.get(spec.key)
    if (!w) return new SlidingWindow(spec.key, spec.ms, spec.moments, spec.extremes)
    w.enable(spec.moments, spec.extremes)
    return w
  })
  const T = new Float64Array(set.trackerSlots).fill(NaN)
  T[0] = st.T[0]!
  T[1] = st.T[1]!
  const oldTrackers = new Map(st.set.trackers.map((t) => [t.key, t]))
  for (const t of set.trackers) {
    const old = oldTrackers.get(t.key)
    if (old) T.set(st.T.subarray(old.offset, old.offset + old.size), t.offset)
    else initTracker(T, t)
  }
  st.T = T
  const binding = set.bind(st.id)
  const oldRules = new Map(st.rules.map((r, i) => [r.identity, { r, name: st.set.rules[i]!.name, enabled: st.binding.enabled[i] === 1 }]))
  st.rules = set.rules.map((rule, i) => {
    const old = oldRules.get(rule.identity)
    if (!old) return freshRule(rule.identity, rule.slots)
    oldRules.delete(rule.identity)
    if (binding.enabled[i] !== 1 && isOpen(old.r)) {
      st.orphans.push({ rule: rule.name, alertId: old.r.alertId, severity: old.r.severity, reason: `rule no longer applies to this device in version ${version}` })
      return freshRule(rule.identity, rule.slots)
    }
    return old.r
  })
  for (const { r, name } of oldRules.values()) {
    if (!isOpen(r)) continue
    const changed = set.rules.some((x) => x.name === name)
    st.orphans.push({ rule: name, alertId: r.alertId, severity: r.severity, reason: `rule ${changed ? "changed" : "removed"} in version ${version}` })
  }
  st.set = set
  st.version = version
  st.binding = binding
}

/** Plain-data form of a device state (msgpack-able); what checkpoints hold. */
export interface DeviceSnapshot {
  readonly v: 1
  readonly lastSeq: number
  readonly maxTs: number
  readonly lastArrival: number
  readonly latest: number[]
  readonly time: [number, number]
  readonly trackers: Record<string, number[]>
  readonly windows: WindowSnapshot[]
  readonly rules: Array<Omit<RuleState, "slots"> & { slots: number[] }>
  readonly orphans: OrphanAlert[]
}

/** Copies a state to plain data (no aliasing of the live arrays). */
export const snapshotState = (st: DeviceState): DeviceSnapshot => ({
  v: 1, lastSeq: st.lastSeq, maxTs: st.maxTs, lastArrival: st.lastArrival, latest: Array.from(st.latest),
  time: [st.T[0]!, st.T[1]!],
  trackers: Object.fromEntries(st.set.trackers.map((t) => [t.key, Array.from(st.T.subarray(t.offset, t.offset + t.size))])),
  windows: st.windows.map((w) => w.snapshot()),
  rules: st.rules.map((r) => ({ ...r, slots: Array.from(r.slots) })),
  orphans: st.orphans.map((o) => ({ ...o })),
})

/**
 * Rebuilds a state from a snapshot against the current rule set: windows, trackers and rule
 * states are matched by key/identity exactly as in {@link migrate}; open alerts of rules that are
 * gone become orphans.
 */
export const restoreState = (id: string, raw: unknown, set: CompiledRuleSet, version: number): DeviceState => {
  const s = raw as DeviceSnapshot
  if (!s || typeof s !== "object" || s.v !== 1 || !Array.isArray(s.windows) || !Array.isArray(s.rules)) {
    throw new DeviceSnapshotInvalid({ id, reason: "not a version 1 device snapshot" })
  }
  const st = newDeviceState(id, set, version)
  st.lastSeq = s.lastSeq
  st.maxTs = s.maxTs
  st.lastArrival = s.lastArrival
  st.latest = Float64Array.from(s.latest)
  const wins = new Map(s.windows.map((w) => [w.key, w]))
  st.windows = set.windows.map((spec) => {
    const w = wins.get(spec.key)
    return w ? SlidingWindow.restore(w, spec.ms, spec.moments, spec.extremes) : new SlidingWindow(spec.key, spec.ms, spec.moments, spec.extremes)
  })
  st.T[0] = s.time[0]
  st.T[1] = s.time[1]
  for (const t of set.trackers) {
    const x = s.trackers[t.key]
    if (x && x.length === t.size) st.T.set(x, t.offset)
  }
  const rules = new Map(s.rules.map((r) => [r.identity, r]))
  st.rules = set.rules.map((rule, i) => {
    const r = rules.get(rule.identity)
    if (!r || r.slots.length !== rule.slots || !severities.includes(r.severity)) return freshRule(rule.identity, rule.slots)
    rules.delete(rule.identity)
    const rs: RuleState = { ...r, slots: Float64Array.from(r.slots) }
    if (st.binding.enabled[i] !== 1 && isOpen(rs)) {
      st.orphans.push({ rule: rule.name, alertId: rs.alertId, severity: rs.severity, reason: `rule no longer applies to this device in version ${version}` })
      return freshRule(rule.identity, rule.slots)
    }
    return rs
  })
  st.orphans.push(...s.orphans)
  for (const r of rules.values()) {
    if (r.phase === Phase.open || r.phase === Phase.clearing) {
      st.orphans.push({ rule: r.identity.split("#")[0]!, alertId: r.alertId, severity: r.severity, reason: `rule changed or removed in version ${version}` })
    }
  }
  return st
}
