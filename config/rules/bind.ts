import type { RuleSetSpec } from "./spec.ts"

/** A device's view of a rule set: its parameter values, groups and which rules apply to it. */
export interface DeviceBinding {
  readonly params: Float64Array
  readonly groups: ReadonlyArray<string>
  readonly enabled: Uint8Array
}

const globRe = (glob: string) => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`)

/**
 * Parameters and rule applicability for device ids (group globs): the groups a device id matches
 * override the set's parameters in file order, and a rule with groups applies only to their
 * devices. The globs are compiled once per binder.
 */
export const deviceBinder = (spec: RuleSetSpec): ((deviceId: string) => DeviceBinding) => {
  const paramNames = Object.keys(spec.params)
  const groupRes = spec.groups.map((g) => ({ name: g.name, res: g.match.map(globRe), params: g.params }))
  return (deviceId) => {
    const groups = groupRes.filter((g) => g.res.some((re) => re.test(deviceId)))
    const params = Float64Array.from(paramNames, (n) => {
      let x = spec.params[n]!
      for (const g of groups) if (Object.hasOwn(g.params, n)) x = g.params[n]!
      return x
    })
    const names = new Set(groups.map((g) => g.name))
    const enabled = Uint8Array.from(spec.rules, (r) => (r.groups.length === 0 || r.groups.some((g) => names.has(g)) ? 1 : 0))
    return { params, groups: [...names], enabled }
  }
}
