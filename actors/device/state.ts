import type { DeviceBinding, TrackerSpec } from "../../config/rules/index.ts"
import { severities, type Severity } from "../../runtime/alert.ts"
import { noBoot } from "../../runtime/batch.ts"
import { carryWindows, WindowArena, windowsByKey, windowsOfSnapshot, type CompiledRuleSet, type WindowColumn, type WindowSnapshot } from "./engine/index.ts"
import { DeviceSnapshotInvalid } from "./errors.ts"
import { flatSnapshot, flatToKeyed, layoutOf, restoreFlatInPlace, type DeviceSnapshotV3 } from "./snapshot-flat.ts"

/** Alert phase of one rule on one device. */
export const Phase = { idle: 0, pending: 1, open: 2, clearing: 3 } as const

/** Offsets of a rule's lifecycle numbers inside the device's rule-state array R (from the rule's base). */
export const RS = { phase: 0, since: 1, openedAt: 2, esc: 3 } as const

/** Plain-data state of one rule on one device (snapshots, queries); the live form is a slice of R. */
export interface RuleState {
  readonly identity: string
  /** phase, since, openedAt, esc, then sequence slots. */
  readonly nums: number[]
  readonly alertId: string
  readonly severity: Severity
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
  /** Current numbering epoch declared by the device (noBoot = none); see dedup.ts. */
  boot: number
  /** Last seq of the current boot. */
  lastSeq: number
  /** Newest event time stored in the current boot (a resend is never later). */
  lastTs: number
  /** Boot switches + restarted counts so far; makes alert ids unique when seqs repeat. */
  epoch: number
  /** Earlier boots, flat: [boot, lastSeq, lastTs, …], oldest first, at most dedup.pastBootsKept. */
  pastBoots: number[]
  /** Newest accepted event time (ms); windows and rules run on this clock. */
  maxTs: number
  /** Processing time (ctx.now) when `maxTs` arrived; ticks extrapolate the device clock from it. */
  lastArrival: number
  /** Newest known value per field (NaN until first seen). */
  latest: Float64Array
  /** All windows of the device in one arena, in the rule set's window order. */
  windows: WindowArena
  /** Tracker slots; T[0] newest reading time, T[1] the one before. */
  T: Float64Array
  /** Rule lifecycle numbers and sequence slots of every rule, one flat array (see CompiledRule.base). */
  R: Float64Array
  /** Open alert id per rule (index = rule index); "" when none. */
  alertIds: string[]
  /** Current severity per rule while open. */
  severity: Severity[]
  orphans: OrphanAlert[]
}

const initTracker = (T: Float64Array, t: TrackerSpec) => T.fill(t.kind === "ewma" ? 0 : NaN, t.offset, t.offset + t.size)

/** Resets rule `r`'s slice of R: idle, sequence steps never seen. */
const resetRule = (R: Float64Array, base: number, size: number) => {
  R.fill(0, base, base + 4)
  R.fill(-Infinity, base + 4, base + size)
}

/** A new device with no history, bound to `set`. */
export const newDeviceState = (id: string, set: CompiledRuleSet, version: number): DeviceState => {
  const T = new Float64Array(set.trackerSlots).fill(NaN)
  for (const t of set.trackers) initTracker(T, t)
  return {
    id, set, version, binding: set.bind(id), boot: noBoot, lastSeq: -Infinity, lastTs: -Infinity, epoch: 0, pastBoots: [],
    maxTs: -Infinity, lastArrival: 0,
    latest: new Float64Array(set.width).fill(NaN),
    windows: new WindowArena(set.windows),
    T, ...freshRules(set), orphans: [],
  }
}

const freshRules = (set: CompiledRuleSet) => {
  const R = new Float64Array(set.ruleStateSize)
  for (const r of set.rules) resetRule(R, r.base, r.size)
  return { R, alertIds: set.rules.map(() => ""), severity: set.rules.map((r) => r.severity) }
}

const isOpen = (phase: number) => phase === Phase.open || phase === Phase.clearing

/**
 * Moves a device to another rule set: windows are kept by (field, duration), trackers by key and
 * rule state by rule identity (name + hash of its semantics), so a changed threshold parameter or
 * an untouched rule keeps its window and open alert. Open alerts of changed, removed or
 * no-longer-applicable rules become orphans, cleared by the caller.
 */
export const migrate = (st: DeviceState, set: CompiledRuleSet, version: number): void => {
  st.windows = carryWindows(windowsByKey(st.windows, st.set.windows), set.windows)
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
  const old = new Map(st.set.rules.map((r, i) => [r.identity, { r, i }]))
  const fresh = freshRules(set)
  set.rules.forEach((rule, i) => {
    const o = old.get(rule.identity)
    if (!o) return
    old.delete(rule.identity)
    const phase = st.R[o.r.base]!
    if (binding.enabled[i] !== 1) {
      if (isOpen(phase)) st.orphans.push({ rule: rule.name, alertId: st.alertIds[o.i]!, severity: st.severity[o.i]!, reason: `rule no longer applies to this device in version ${version}` })
      return
    }
    fresh.R.set(st.R.subarray(o.r.base, o.r.base + o.r.size), rule.base)
    fresh.alertIds[i] = st.alertIds[o.i]!
    fresh.severity[i] = st.severity[o.i]!
  })
  for (const { r, i } of old.values()) {
    if (!isOpen(st.R[r.base]!)) continue
    const changed = set.rules.some((x) => x.name === r.name)
    st.orphans.push({ rule: r.name, alertId: st.alertIds[i]!, severity: st.severity[i]!, reason: `rule ${changed ? "changed" : "removed"} in version ${version}` })
  }
  st.R = fresh.R
  st.alertIds = fresh.alertIds
  st.severity = fresh.severity
  st.set = set
  st.version = version
  st.binding = binding
}

/**
 * The keyed version 2 form of a device state, read from older checkpoints (and from version 3
 * snapshots restored under another rule set: snapshot-flat.ts `flatToKeyed`). Window data are
 * Float64Arrays (msgpackr `moreTypes` writes them as raw bytes), and each window duration's
 * timeline is stored once in `timelines`, not once per window.
 */
export interface DeviceSnapshot {
  readonly v: 2
  readonly lastSeq: number
  /** Numbering (dedup.ts); absent in snapshots written before boots existed. */
  readonly boot?: number
  readonly lastTs?: number
  readonly epoch?: number
  readonly pastBoots?: number[]
  readonly maxTs: number
  readonly lastArrival: number
  readonly latest: Float64Array
  readonly time: [number, number]
  readonly trackers: Record<string, number[]>
  readonly timelines: ReadonlyArray<Float64Array>
  readonly windows: ReadonlyArray<WindowColumn & { readonly key: string }>
  readonly rules: RuleState[]
  readonly orphans: OrphanAlert[]
}

/** The version 1 form (number arrays, a timeline per window), still read from older checkpoints. */
export interface DeviceSnapshotV1 {
  readonly v: 1
  readonly lastSeq: number
  readonly maxTs: number
  readonly lastArrival: number
  readonly latest: number[]
  readonly time: [number, number]
  readonly trackers: Record<string, number[]>
  readonly windows: Array<WindowSnapshot & { readonly key: string }>
  readonly rules: RuleState[]
  readonly orphans: OrphanAlert[]
}

/** Copies a state to plain data (no aliasing of the live arrays): what checkpoints and passive actors hold. */
export const snapshotState = (st: DeviceState): DeviceSnapshotV3 => flatSnapshot(st)

/** The keyed version 2 form of a state (what {@link snapshotState} wrote before version 3; tests compare the forms). */
export const keyedSnapshot = (st: DeviceState): DeviceSnapshot => {
  const arena = st.windows.snapshotAll()
  return {
    v: 2, lastSeq: st.lastSeq, boot: st.boot, lastTs: st.lastTs, epoch: st.epoch, pastBoots: st.pastBoots.slice(), maxTs: st.maxTs, lastArrival: st.lastArrival, latest: st.latest.slice(),
    time: [st.T[0]!, st.T[1]!],
    trackers: Object.fromEntries(st.set.trackers.map((t) => [t.key, Array.from(st.T.subarray(t.offset, t.offset + t.size))])),
    timelines: arena.timelines,
    windows: st.set.windows.map((w, k) => ({ key: w.key, ...arena.windows[k]! })),
    rules: st.set.rules.map((r, i) => ({
      identity: r.identity, nums: Array.from(st.R.subarray(r.base, r.base + r.size)), alertId: st.alertIds[i]!, severity: st.severity[i]!,
    })),
    orphans: st.orphans.map((o) => ({ ...o })),
  }
}

/**
 * Rebuilds a state from a snapshot against the current rule set: windows, trackers and rule
 * states are matched by key/identity exactly as in {@link migrate}; open alerts of rules that are
 * gone become orphans.
 */
export const restoreState = (id: string, raw: unknown, set: CompiledRuleSet, version: number): DeviceState => {
  const v3 = raw as DeviceSnapshotV3
  if (v3 && typeof v3 === "object" && v3.v === 3) {
    if (v3.layout === layoutOf(set)) return restoreFlatInPlace(id, v3, newDeviceState(id, set, version), version)
    return restoreState(id, flatToKeyed(id, v3), set, version)
  }
  const s = raw as DeviceSnapshot | DeviceSnapshotV1
  const windows = s && typeof s === "object" && (s.v === 1 || s.v === 2) && Array.isArray(s.rules) ? windowsOfSnapshot(s) : undefined
  if (!windows) throw new DeviceSnapshotInvalid({ id, reason: "not a version 1 or 2 device snapshot" })
  const st = newDeviceState(id, set, version)
  st.lastSeq = s.lastSeq
  if (s.v === 2 && typeof s.boot === "number") {
    st.boot = s.boot
    st.lastTs = s.lastTs ?? s.maxTs
    st.epoch = s.epoch ?? 0
    st.pastBoots = Array.isArray(s.pastBoots) ? s.pastBoots.slice() : []
  } else st.lastTs = s.maxTs // older snapshot: its newest windowed event time is the best bound known
  st.maxTs = s.maxTs
  st.lastArrival = s.lastArrival
  st.latest = Float64Array.from(s.latest)
  st.windows = carryWindows(windows, set.windows)
  st.T[0] = s.time[0]
  st.T[1] = s.time[1]
  for (const t of set.trackers) {
    const x = s.trackers[t.key]
    if (x && x.length === t.size) st.T.set(x, t.offset)
  }
  const rules = new Map(s.rules.map((r) => [r.identity, r]))
  set.rules.forEach((rule, i) => {
    const r = rules.get(rule.identity)
    if (!r || r.nums.length !== rule.size || !severities.includes(r.severity)) return
    rules.delete(rule.identity)
    if (st.binding.enabled[i] !== 1) {
      if (isOpen(r.nums[0]!)) st.orphans.push({ rule: rule.name, alertId: r.alertId, severity: r.severity, reason: `rule no longer applies to this device in version ${version}` })
      return
    }
    st.R.set(r.nums, rule.base)
    st.alertIds[i] = r.alertId
    st.severity[i] = r.severity
  })
  st.orphans.push(...s.orphans)
  for (const r of rules.values()) {
    if (isOpen(r.nums[0]!)) st.orphans.push({ rule: r.identity.split("#")[0]!, alertId: r.alertId, severity: r.severity, reason: `rule changed or removed in version ${version}` })
  }
  // Orphans are closed when the actor next syncs its rule set; a version that cannot match makes it do so.
  if (st.orphans.length) st.version = -1
  return st
}
