import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type Scalar, type YAMLMap } from "yaml"
import type { DeviceSchema } from "../device-schema.ts"
import { severities, type Severity } from "./severity.ts"
import type { Expr } from "./ast.ts"
import { checkExpr, type Scope } from "./checker.ts"
import { formatDuration } from "./duration.ts"
import { functions } from "./functions.ts"
import { defaultRuleLimits, tooDeep, windowCalls, type RuleLimits } from "./limits.ts"
import { arenaBytes, type WindowNeeds } from "./window-layout.ts"
import { parseDuration } from "./duration.ts"
import { isExprError, parseExpr, type ExprError } from "./parser.ts"
import type { EscalationSpec, GroupSpec, RuleIssue, RuleSetSpec, RuleSpec } from "./spec.ts"
import { didYouMean } from "./suggest.ts"

const ruleKeys = ["description", "when", "for", "clear", "clear_for", "severity", "escalate", "channels", "throttle", "groups"]
const topKeys = ["schema", "lateness", "params", "groups", "rules"]
const nameRe = /^[a-z][a-z0-9_]*$/
const windowFns = new Set(Object.keys(functions).filter((f) => functions[f]!.category === "window"))

/** Result of reading a rules file: the checked spec when there are no issues. */
export type ParseResult = { readonly spec: RuleSetSpec; readonly issues: readonly [] } | { readonly spec?: undefined; readonly issues: ReadonlyArray<RuleIssue> }

/**
 * Parses and checks a rules file (YAML with expressions) against a device schema. Every problem is
 * reported with its file:line:col, including positions inside expressions. A set over `limits`
 * (expression depth, number of rules, window memory per device) is refused the same way.
 */
export const parseRules = (source: string, file: string, schema: DeviceSchema, limits: RuleLimits = defaultRuleLimits): ParseResult => {
  const lc = new LineCounter()
  const doc = parseDocument(source, { lineCounter: lc, uniqueKeys: true, prettyErrors: false })
  const issues: RuleIssue[] = []
  const at = (offset: number, message: string) => {
    const p = lc.linePos(offset)
    issues.push({ file, line: p.line, col: p.col, message })
  }
  const atNode = (n: Node | null | undefined, message: string) => at(n?.range?.[0] ?? 0, message)
  for (const e of doc.errors) at(e.pos[0], e.message.split("\n")[0]!)
  if (issues.length) return { issues }
  const root = doc.contents
  if (!isMap(root)) {
    atNode(root, "a rules file is a YAML mapping with a rules: section")
    return { issues }
  }

  const entries = (m: YAMLMap, allowed: ReadonlyArray<string> | undefined, what: string): Array<[string, Node | null, Pair]> =>
    m.items.flatMap((p) => {
      const k = isScalar(p.key) ? String(p.key.value) : undefined
      if (k === undefined) { atNode(p.key as Node, `${what} keys must be plain names`); return [] }
      if (allowed && !allowed.includes(k)) {
        atNode(p.key as Node, `unknown key "${k}" in ${what}${didYouMean(k, allowed)}; allowed: ${allowed.join(", ")}`)
        return []
      }
      return [[k, p.value as Node | null, p]]
    })
  const get = (m: YAMLMap, key: string): Node | null | undefined => m.items.find((p) => isScalar(p.key) && p.key.value === key)?.value as Node | null | undefined
  const durationOf = (n: Node | null | undefined, what: string, dflt: number): number => {
    if (n === undefined) return dflt
    if (!isScalar(n)) { atNode(n, `${what} must be a duration such as 30s`); return dflt }
    if (typeof n.value === "number") { atNode(n, `${what}: duration ${n.value} is missing a unit; write ${n.value}s (or ms, m, h)`); return dflt }
    const ms = parseDuration(String(n.value))
    if (typeof ms === "string") { atNode(n, `${what}: ${ms}`); return dflt }
    return ms
  }
  const numberOf = (n: Node | null | undefined, what: string): number | undefined => {
    if (isScalar(n) && typeof n.value === "number" && Number.isFinite(n.value)) return n.value
    atNode(n, `${what} must be a number`)
    return undefined
  }
  const stringsOf = (n: Node | null | undefined, what: string): string[] => {
    if (n === undefined) return []
    if (isScalar(n) && typeof n.value === "string") return [n.value]
    if (isSeq(n) && n.items.every((x) => isScalar(x) && typeof x.value === "string")) return n.items.map((x) => String((x as Scalar).value))
    atNode(n, `${what} must be a name or a list of names`)
    return []
  }
  const severityOf = (n: Node | null | undefined, dflt: Severity): Severity => {
    if (n === undefined) return dflt
    const v = isScalar(n) ? String(n.value) : ""
    if ((severities as ReadonlyArray<string>).includes(v)) return v as Severity
    atNode(n, `unknown severity "${v}"${didYouMean(v, severities)}; use ${severities.join(", ")}`)
    return dflt
  }

  entries(root, topKeys, "the rules file") // reports unknown top-level keys
  const schemaNode = get(root, "schema")
  const schemaType = schemaNode === undefined ? schema.type : isScalar(schemaNode) ? String(schemaNode.value) : ""
  if (schemaType !== schema.type) atNode(schemaNode, `rules are for device type "${schemaType}" but the schema is "${schema.type}"`)
  const latenessMs = durationOf(get(root, "lateness"), "lateness", 5000)

  // --- params: name → default value ---
  const params: Record<string, number> = {}
  const paramsNode = get(root, "params")
  if (paramsNode != null) {
    if (!isMap(paramsNode)) atNode(paramsNode, "params: must map names to numbers")
    else for (const [name, v, p] of entries(paramsNode, undefined, "params")) {
      if (!nameRe.test(name)) atNode(p.key as Node, `parameter name "${name}" must be lower_snake_case`)
      const x = numberOf(v, `parameter ${name}`)
      if (x !== undefined) params[name] = x
    }
  }

  // --- groups: device id globs → tag + parameter overrides ---
  const groups: GroupSpec[] = []
  const groupsNode = get(root, "groups")
  if (groupsNode != null) {
    if (!isMap(groupsNode)) atNode(groupsNode, "groups: must map group names to { match, params }")
    else for (const [name, v, p] of entries(groupsNode, undefined, "groups")) {
      if (!nameRe.test(name)) atNode(p.key as Node, `group name "${name}" must be lower_snake_case`)
      if (!isMap(v)) { atNode(v ?? (p.key as Node), `group ${name} needs match: (device id globs) and optional params:`); continue }
      entries(v, ["match", "params"], `group ${name}`)
      const match = stringsOf(get(v, "match"), `group ${name} match`)
      if (match.length === 0) atNode(v, `group ${name} needs match: with at least one device id glob, e.g. "bus-1*"`)
      const overrides: Record<string, number> = {}
      const pn = get(v, "params")
      if (pn != null) {
        if (!isMap(pn)) atNode(pn, `group ${name} params: must map names to numbers`)
        else for (const [pname, pv, pp] of entries(pn, undefined, `group ${name} params`)) {
          if (!Object.hasOwn(params, pname)) { atNode(pp.key as Node, `group ${name} overrides unknown parameter "${pname}"${didYouMean(pname, Object.keys(params))}; declare a default under params:`); continue }
          const x = numberOf(pv, `parameter ${pname}`)
          if (x !== undefined) overrides[pname] = x
        }
      }
      groups.push({ name, match, params: overrides })
    }
  }

  // --- rules ---
  const scope: Scope = {
    fields: new Map(schema.fields.map((f) => [f.name, f.kind === "bool" ? "bool" : "num"] as const)),
    params: new Set(Object.keys(params)),
  }
  const expr = (n: Node | null | undefined, what: string): [Expr, string] | undefined => {
    if (!isScalar(n) || (typeof n.value !== "string" && typeof n.value !== "number" && typeof n.value !== "boolean")) {
      atNode(n, `${what} must be an expression, e.g. speed_kmh > 80`)
      return undefined
    }
    const text = String(n.value)
    const offsetOf = (pos: number) => mapOffset(source, n, text, pos)
    const parsed = parseExpr(text, limits.maxExprDepth)
    if (isExprError(parsed)) { at(offsetOf(parsed.pos), parsed.message); return undefined }
    const deep = tooDeep(parsed, limits.maxExprDepth)
    if (deep) { at(offsetOf(deep.pos), `expression nests deeper than ${limits.maxExprDepth} levels (rules.maxExprDepth); split it into simpler rules`); return undefined }
    const errs: ExprError[] = []
    const t = checkExpr(parsed, scope, errs)
    for (const e of errs) at(offsetOf(e.pos), e.message)
    if (errs.length === 0 && t !== "bool") { at(offsetOf(0), `${what} must be a condition (yes/no), but this is a ${t === "num" ? "number" : "duration"}`); return undefined }
    if (errs.length) return undefined
    for (const c of windowCalls(parsed, windowFns)) windowUses.push({ ...c, offset: offsetOf(c.pos) })
    return [parsed, text]
  }
  const windowUses: Array<{ fn: string; field: string; ms: number; offset: number }> = []
  const rules: RuleSpec[] = []
  const rulesNode = get(root, "rules")
  if (!isMap(rulesNode)) atNode(rulesNode ?? root, "the rules file needs a rules: section mapping rule names to rules")
  else for (const [name, v, p] of entries(rulesNode, undefined, "rules")) {
    if (rules.length === limits.maxRules) { atNode(p.key as Node, `more than ${limits.maxRules} rules (rules.maxRules); every rule runs on every reading`); break }
    if (!nameRe.test(name)) atNode(p.key as Node, `rule name "${name}" must be lower_snake_case`)
    if (!isMap(v)) { atNode(v ?? (p.key as Node), `rule ${name} must be a mapping with at least when:`); continue }
    entries(v, ruleKeys, `rule ${name}`)
    const whenNode = get(v, "when")
    if (whenNode === undefined) { atNode(p.key as Node, `rule ${name} has no when: condition`); continue }
    const when = expr(whenNode, `rule ${name} when`)
    const clearNode = get(v, "clear")
    const clear = clearNode === undefined ? undefined : expr(clearNode, `rule ${name} clear`)
    const severity = severityOf(get(v, "severity"), "warning")
    const escalate: EscalationSpec[] = []
    const escNode = get(v, "escalate")
    if (escNode != null) {
      const steps = isSeq(escNode) ? escNode.items : isMap(escNode) ? [escNode] : undefined
      if (!steps) atNode(escNode, `escalate must be a list of { after: 5m, severity: critical }`)
      else for (const s of steps as Node[]) {
        if (!isMap(s)) { atNode(s, `escalation step must be { after: 5m, severity: critical }`); continue }
        entries(s, ["after", "severity"], "escalation step")
        const afterNode = get(s, "after")
        if (afterNode === undefined) atNode(s, `escalation step needs after: (how long the alert is open)`)
        const afterMs = durationOf(afterNode, "after", 0)
        const sev = severityOf(get(s, "severity"), "critical")
        const prev = escalate.at(-1)
        if (severities.indexOf(sev) <= severities.indexOf(prev?.severity ?? severity)) atNode(get(s, "severity") ?? s, `escalation must raise the severity above ${prev?.severity ?? severity}`)
        else if (prev && afterMs <= prev.afterMs) atNode(afterNode, `escalation steps must come in increasing after: order`)
        else escalate.push({ afterMs, severity: sev })
      }
    }
    const ruleGroups = stringsOf(get(v, "groups"), `rule ${name} groups`)
    for (const g of ruleGroups) if (!groups.some((x) => x.name === g)) atNode(get(v, "groups"), `rule ${name} names unknown group "${g}"${didYouMean(g, groups.map((x) => x.name))}`)
    const descNode = get(v, "description")
    const rule: Omit<RuleSpec, "when" | "whenSource"> = {
      name,
      description: isScalar(descNode) ? String(descNode.value) : "",
      forMs: durationOf(get(v, "for"), "for", 0),
      clear: clear?.[0],
      clearSource: clear?.[1],
      clearForMs: durationOf(get(v, "clear_for"), "clear_for", 0),
      severity,
      escalate,
      channels: stringsOf(get(v, "channels"), `rule ${name} channels`),
      throttleMs: durationOf(get(v, "throttle"), "throttle", 0),
      groups: ruleGroups,
    }
    if (when) rules.push({ ...rule, when: when[0], whenSource: when[1] })
  }
  checkWindowMemory(windowUses, schema, limits, at)
  if (issues.length) return { issues: issues.sort((a, b) => a.line - b.line || a.col - b.col) }
  return { spec: { schemaType, latenessMs, params, groups, rules }, issues: [] }
}

/** Refuses a set whose windows would hold more than the limit per device at the fastest allowed rate. */
const checkWindowMemory = (
  uses: ReadonlyArray<{ fn: string; field: string; ms: number; offset: number }>,
  schema: DeviceSchema,
  limits: RuleLimits,
  at: (offset: number, message: string) => void,
) => {
  if (uses.length === 0) return
  const needs = new Map<string, WindowNeeds>()
  for (const u of uses) {
    const key = `${u.field}:${u.ms}`
    const w = needs.get(key) ?? { field: schema.byName.get(u.field)?.index ?? 0, ms: u.ms, moments: false, extremes: false }
    needs.set(key, { ...w, extremes: w.extremes || u.fn === "min" || u.fn === "max" })
  }
  const bytes = arenaBytes([...needs.values()], limits.maxReadingsPerSec)
  if (bytes <= limits.maxWindowBytesPerDevice) return
  const longest = uses.reduce((a, b) => (b.ms > a.ms ? b : a))
  const kib = (n: number) => `${Math.ceil(n / 1024)} KiB`
  at(longest.offset, `the rule set's windows need ${kib(bytes)} per device at ${limits.maxReadingsPerSec} readings/s, over the limit of ${kib(limits.maxWindowBytesPerDevice)} (rules.maxWindowBytesPerDevice); the longest, ${longest.fn}(${longest.field}, ${formatDuration(longest.ms)}), holds ${Math.ceil((longest.ms / 1000) * limits.maxReadingsPerSec)} readings per device`)
}

/**
 * Maps character `pos` of a scalar's value to an offset in the source, walking value and source
 * together so plain, quoted and block scalars (with folded lines and indentation) all map exactly.
 */
const mapOffset = (source: string, node: Scalar, value: string, pos: number): number => {
  const start = node.range?.[0] ?? 0
  let j = start
  if (node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE") j++
  else if (node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED") j = source.indexOf("\n", start) + 1 || start
  const end = node.range?.[1] ?? source.length
  let i = 0
  while (i < pos && j < end) {
    if (value[i] === source[j]) { i++; j++ }
    else if (/\s/.test(source[j]!)) j++
    else if (/\s/.test(value[i]!)) i++
    else j++
  }
  while (j < end && /\s/.test(source[j]!) && !/\s/.test(value[pos] ?? "x")) j++
  return j
}
