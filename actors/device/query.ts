import { noBoot } from "../../runtime/batch.ts"
import { windowAggregates } from "./engine/index.ts"
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
  st.set.windows.forEach((spec, k) => { windows[`${spec.fieldName}:${spec.ms}ms`] = windowAggregates(st.windows, k, spec) })
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
