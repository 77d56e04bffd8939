/**
 * The version 3 device snapshot: every number of a device in one Float64Array, laid out by the
 * rule set, plus the rule set's layout as one string. msgpack writes the array as raw bytes, so
 * packing and unpacking it cost a few µs where the keyed version 2 form (an object per rule and
 * per window, each with arrays of its own) cost ≈ 30 µs each way; activations and passivations of
 * a fleet reconnecting at once are mostly that (docs/decisions.md, "Flat device snapshots").
 *
 * A snapshot restored under the rule set it was written for (same layout string) is copied in
 * place. Under another set it is first read back into the keyed form by its own layout, and
 * {@link restoreState} matches windows, trackers and rules by key and identity as before.
 */
import { severities, type Severity } from "../../runtime/alert.ts"
import type { CompiledRuleSet, WindowSnapshot } from "./engine/index.ts"
import { DeviceSnapshotInvalid } from "./errors.ts"
import type { DeviceSnapshot, DeviceState, OrphanAlert, RuleState } from "./state.ts"

/** Version 3: see the module comment. Optional parts are left out when empty (the common case). */
export interface DeviceSnapshotV3 {
  readonly v: 3
  /** What `f` is laid out by: {@link layoutOf} of the rule set it was written under. */
  readonly layout: string
  /**
   * lastSeq, boot, lastTs, epoch, maxTs, lastArrival, timeline count; latest (width); tracker
   * slots; rule registers; each rule's severity (index into `severities`); per timeline its
   * length then its times; per window (set order) timeline, mean, m2, updates, moments (0/1),
   * then its values on its timeline.
   */
  readonly f: Float64Array
  /** Open alert id per rule ("" none); absent when no rule has one. */
  readonly a?: string[]
  readonly pastBoots?: number[]
  readonly orphans?: OrphanAlert[]
}

interface Layout {
  readonly width: number
  readonly windows: ReadonlyArray<string>
  readonly trackerSlots: number
  readonly trackers: ReadonlyArray<readonly [string, number, number]>
  readonly ruleStateSize: number
  readonly rules: ReadonlyArray<readonly [string, number, number]>
}

const layouts = new WeakMap<CompiledRuleSet, { readonly text: string; readonly layout: Layout }>()
const layoutOfSet = (set: CompiledRuleSet) => {
  let x = layouts.get(set)
  if (x === undefined) {
    const layout: Layout = {
      width: set.width, windows: set.windows.map((w) => w.key), trackerSlots: set.trackerSlots,
      trackers: set.trackers.map((t) => [t.key, t.offset, t.size] as const), ruleStateSize: set.ruleStateSize,
      rules: set.rules.map((r) => [r.identity, r.base, r.size] as const),
    }
    x = { text: JSON.stringify(layout), layout }
    layouts.set(set, x)
  }
  return x
}
/** The layout of `set`'s numbers in a version 3 snapshot, as a string (computed once per set). */
export const layoutOf = (set: CompiledRuleSet): string => layoutOfSet(set).text

const header = 7
const severityIndex = new Map<string, number>(severities.map((s, i) => [s, i]))

/** Writes `st` as a version 3 snapshot (copies: nothing aliases the live state). */
export const flatSnapshot = (st: DeviceState): DeviceSnapshotV3 => {
  const set = st.set
  const arena = st.windows.snapshotAll()
  let size = header + set.width + set.trackerSlots + set.ruleStateSize + set.rules.length
  for (const t of arena.timelines) size += 1 + t.length
  for (const w of arena.windows) size += 5 + w.xs.length
  const f = new Float64Array(size)
  f[0] = st.lastSeq
  f[1] = st.boot
  f[2] = st.lastTs
  f[3] = st.epoch
  f[4] = st.maxTs
  f[5] = st.lastArrival
  f[6] = arena.timelines.length
  let p = header
  f.set(st.latest.subarray(0, set.width), p)
  p += set.width
  f.set(st.T, p)
  p += set.trackerSlots
  f.set(st.R, p)
  p += set.ruleStateSize
  for (let i = 0; i < set.rules.length; i++) f[p++] = severityIndex.get(st.severity[i]!) ?? -1
  for (const t of arena.timelines) {
    f[p++] = t.length
    f.set(t, p)
    p += t.length
  }
  for (const w of arena.windows) {
    f[p++] = w.timeline
    f[p++] = w.mean
    f[p++] = w.m2
    f[p++] = w.updates
    f[p++] = w.moments ? 1 : 0
    f.set(w.xs, p)
    p += w.xs.length
  }
  const snap: { -readonly [K in keyof DeviceSnapshotV3]: DeviceSnapshotV3[K] } = { v: 3, layout: layoutOf(set), f }
  if (st.alertIds.some((a) => a !== "")) snap.a = st.alertIds.slice()
  if (st.pastBoots.length) snap.pastBoots = st.pastBoots.slice()
  if (st.orphans.length) snap.orphans = st.orphans.map((o) => ({ ...o }))
  return snap
}

/** The parts of a version 3 snapshot, read against its own layout; undefined when they do not fit it. */
const readFlat = (s: DeviceSnapshotV3, l: Layout) => {
  const f = s.f
  if (!(f instanceof Float64Array) || f.length < header) return undefined
  const timelineCount = f[6]!
  let p = header
  const latest = f.subarray(p, (p += l.width))
  const T = f.subarray(p, (p += l.trackerSlots))
  const R = f.subarray(p, (p += l.ruleStateSize))
  const sev = f.subarray(p, (p += l.rules.length))
  const timelines: Float64Array[] = []
  for (let i = 0; i < timelineCount && p < f.length; i++) {
    const len = f[p++]!
    timelines.push(f.subarray(p, (p += len)))
  }
  const windows: WindowSnapshot[] = []
  for (let k = 0; k < l.windows.length && p + 5 <= f.length; k++) {
    const ts = timelines[f[p]!]
    if (!ts) return undefined
    windows.push({ ts, mean: f[p + 1]!, m2: f[p + 2]!, updates: f[p + 3]!, moments: f[p + 4] === 1, xs: f.subarray(p + 5, p + 5 + ts.length) })
    p += 5 + ts.length
  }
  if (p !== f.length || timelines.length !== timelineCount || windows.length !== l.windows.length) return undefined
  const alertIds = Array.isArray(s.a) && s.a.length === l.rules.length ? s.a : l.rules.map(() => "")
  return { latest, T, R, sev, windows, alertIds }
}

const invalid = (id: string) => new DeviceSnapshotInvalid({ id, reason: "a version 3 device snapshot that does not fit its own layout" })

/**
 * Restores a version 3 snapshot written under the layout of `fresh.set` (the caller compared
 * {@link layoutOf}): the fast path. `fresh` is a new state for that set (windows empty, rules
 * idle), filled in place.
 */
export const restoreFlatInPlace = (id: string, s: DeviceSnapshotV3, fresh: DeviceState, version: number): DeviceState => {
  const set = fresh.set
  const parts = readFlat(s, layoutOfSet(set).layout)
  if (!parts) throw invalid(id)
  const st = fresh
  const f = s.f
  st.lastSeq = f[0]!
  st.boot = f[1]!
  st.lastTs = f[2]!
  st.epoch = f[3]!
  st.maxTs = f[4]!
  st.lastArrival = f[5]!
  st.pastBoots = Array.isArray(s.pastBoots) ? s.pastBoots.slice() : []
  st.latest.set(parts.latest)
  st.T.set(parts.T)
  st.windows.loadAll(parts.windows)
  set.rules.forEach((rule, i) => {
    const severity = severities[parts.sev[i]!]
    if (severity === undefined) return // unreadable: the rule starts fresh, as version 2 did
    const nums = parts.R.subarray(rule.base, rule.base + rule.size)
    if (st.binding.enabled[i] !== 1) {
      if (isOpen(nums[0]!)) st.orphans.push({ rule: rule.name, alertId: parts.alertIds[i]!, severity, reason: `rule no longer applies to this device in version ${version}` })
      return
    }
    st.R.set(nums, rule.base)
    st.alertIds[i] = parts.alertIds[i]!
    st.severity[i] = severity
  })
  if (Array.isArray(s.orphans)) st.orphans.push(...s.orphans)
  if (st.orphans.length) st.version = -1
  return st
}

/** A version 3 snapshot in the keyed version 2 form, read by its own layout (restoring under another rule set). */
export const flatToKeyed = (id: string, s: DeviceSnapshotV3): DeviceSnapshot => {
  let l: Layout
  try {
    l = JSON.parse(s.layout) as Layout
  } catch {
    throw invalid(id)
  }
  const parts = typeof s.layout === "string" && Array.isArray(l?.rules) ? readFlat(s, l) : undefined
  if (!parts) throw invalid(id)
  const timelines: Float64Array[] = []
  const windows = parts.windows.map((w, k) => {
    let t = timelines.indexOf(w.ts as Float64Array)
    if (t < 0) t = timelines.push(w.ts as Float64Array) - 1
    return { key: l.windows[k]!, timeline: t, xs: w.xs as Float64Array, mean: w.mean, m2: w.m2, updates: w.updates, moments: w.moments }
  })
  const rules: RuleState[] = l.rules.map(([identity, base, size], i) => ({
    identity, nums: Array.from(parts.R.subarray(base, base + size)), alertId: parts.alertIds[i]!, severity: (severities[parts.sev[i]!] ?? "invalid") as Severity,
  }))
  const f = s.f
  return {
    v: 2, lastSeq: f[0]!, boot: f[1]!, lastTs: f[2]!, epoch: f[3]!, pastBoots: Array.isArray(s.pastBoots) ? s.pastBoots : [], maxTs: f[4]!, lastArrival: f[5]!,
    latest: parts.latest.slice(), time: [parts.T[0]!, parts.T[1]!],
    trackers: Object.fromEntries(l.trackers.map(([key, offset, size]) => [key, Array.from(parts.T.subarray(offset, offset + size))])),
    timelines, windows, rules, orphans: Array.isArray(s.orphans) ? s.orphans : [],
  }
}

/** Phase.open or Phase.clearing (state.ts, which imports this module). */
const isOpen = (phase: number) => phase === 2 || phase === 3
