import { windowHeaderSize, windowReaders as r } from "../../config/rules/index.ts"
import { noBoot } from "../../runtime/batch.ts"
import { Phase, RS, type DeviceState } from "./state.ts"

/** Live state answer of a device actor (JSON-able). */
export interface DeviceQueryResult {
  readonly id: string
  /** The boot the device declared last (null: none, a v1 device); `lastSeq` is numbered within it. */
  readonly boot: number | null
  readonly lastSeq: number | null
  readonly lastTs: number | null
  readonly ruleVersion: number
  readonly groups: ReadonlyArray<string>
  readonly latest: Record<string, number>
  readonly windows: Record<string, Record<string, number | null>>
  readonly alerts: ReadonlyArray<{ rule: string; alertId: string; severity: string; openedAt: number; clearing: boolean }>
}

const num = (x: number) => (Number.isFinite(x) ? x : null)

/** Builds the live-state answer: latest values, maintained window aggregates and open alerts. */
export const queryState = (st: DeviceState, fieldNames: ReadonlyArray<string>, _request: unknown): DeviceQueryResult => {
  const latest: Record<string, number> = {}
  st.latest.forEach((x, i) => { if (x === x) latest[fieldNames[i]!] = x })
  const windows: Record<string, Record<string, number | null>> = {}
  st.set.windows.forEach((spec, i) => {
    const A = st.windows.A
    const h = i * windowHeaderSize
    const agg: Record<string, number | null> = { count: r.wCount(A, h), first: num(r.wFirst(A, h)), last: num(r.wLast(A, h)), delta: num(r.wDelta(A, h)), rate: num(r.wRate(A, h)) }
    if (spec.moments) Object.assign(agg, { avg: num(r.wAvg(A, h)), sum: num(r.wSum(A, h)), stddev: num(r.wStddev(A, h)) })
    if (spec.extremes) Object.assign(agg, { min: num(r.wMin(A, h)), max: num(r.wMax(A, h)) })
    windows[`${spec.fieldName}:${spec.ms}ms`] = agg
  })
  const alerts = st.set.rules.flatMap((r, i) => {
    const phase = st.R[r.base]!
    return phase === Phase.open || phase === Phase.clearing
      ? [{ rule: r.name, alertId: st.alertIds[i]!, severity: st.severity[i]!, openedAt: st.R[r.base + RS.openedAt]!, clearing: phase === Phase.clearing }]
      : []
  })
  return {
    id: st.id, boot: st.boot === noBoot ? null : st.boot, lastSeq: num(st.lastSeq), lastTs: num(st.maxTs), ruleVersion: st.version, groups: st.binding.groups, latest, windows, alerts,
  }
}
