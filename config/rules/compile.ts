import type { DeviceSchema } from "../device-schema.ts"
import { show, type Expr } from "./ast.ts"
import { formatDuration } from "./duration.ts"
import { functions } from "./functions.ts"
import { planArgs, planHelpers, type RulePlan, type RuleSetPlan, type TrackerSpec, type WindowSpec } from "./plan.ts"
import type { RuleSetSpec, RuleSpec } from "./spec.ts"
import { H } from "./window-layout.ts"

const windowFns = new Set(["avg", "min", "max", "sum", "count", "stddev", "first", "last", "delta", "rate", "zscore"])
const momentFns = new Set(["avg", "sum", "stddev", "zscore"])

/** Builds the tracker/window tables a rule set needs, shared across its rules. */
class Needs {
  readonly windows: WindowSpec[] = []
  readonly trackers: TrackerSpec[] = []
  slots = 2 // T[0] newest reading time, T[1] previous reading time
  constructor(private readonly schema: DeviceSchema) {}
  window(field: string, ms: number, fn: string): number {
    const key = `${field}:${ms}`
    let i = this.windows.findIndex((w) => w.key === key)
    if (i < 0) {
      i = this.windows.length
      this.windows.push({ key, field: this.schema.byName.get(field)!.index, fieldName: field, ms, moments: false, extremes: false })
    }
    const w = this.windows[i]!
    this.windows[i] = { ...w, moments: w.moments || momentFns.has(fn), extremes: w.extremes || fn === "min" || fn === "max" }
    return i
  }
  tracker(kind: TrackerSpec["kind"], field: string, tauMs = 0): TrackerSpec {
    const key = `${kind}:${field}${tauMs ? `:${tauMs}` : ""}`
    const found = this.trackers.find((t) => t.key === key)
    if (found) return found
    const size = kind === "ewma" ? 5 : 2
    const t: TrackerSpec = { key, kind, field: this.schema.byName.get(field)!.index, tauMs, offset: this.slots, size }
    this.slots += size
    this.trackers.push(t)
    return t
  }
}

const num = (x: number) => (Number.isFinite(x) ? String(x) : x > 0 ? "Infinity" : x < 0 ? "-Infinity" : "NaN")

/** Generates JS for one expression; stateful sequence steps are hoisted into `pre` so they run every time. */
const gen = (e: Expr, schema: DeviceSchema, params: ReadonlyArray<string>, needs: Needs, rule: { slots: number; timed: boolean; timerMs: number; pre: string[]; leaves: Map<string, string>; flips: string[] }): string => {
  /** Records device time `at` (JS) as a time at which a clock-driven term turns: after t, or also at t (`atT`: true until t passes it). */
  const turnsAt = (at: string, atT = false) => rule.flips.push(`(x=${at})${atT ? ">=" : ">"}t&&x<f&&(f=x)`)
  const go = (x: Expr): string => {
    switch (x.k) {
      case "num": return num(x.value)
      case "bool": return String(x.value)
      case "dur": return num(x.ms)
      case "field": {
        const f = schema.byName.get(x.name)!
        const raw = `v[o+${f.index}]`
        rule.leaves.set(x.name, raw)
        return f.kind === "bool" ? `(${raw}>0.5)` : raw
      }
      case "param": {
        const code = `p[${params.indexOf(x.name)}]`
        rule.leaves.set(`$${x.name}`, code)
        return code
      }
      case "unary": return x.op === "-" ? `(-${go(x.arg)})` : `(!${go(x.arg)})`
      case "binary": {
        const op = x.op === "and" ? "&&" : x.op === "or" ? "||" : x.op === "==" ? "===" : x.op === "!=" ? "!==" : x.op
        return `(${go(x.left)}${op}${go(x.right)})`
      }
      case "then": {
        const k = rule.slots++
        const h = `h${k}`
        const within = x.within.k === "dur" ? x.within.ms : 0
        rule.pre.push(`const ${h}a=${go(x.first)},${h}b=${go(x.second)};const ${h}=${h}b&&(t-S[${k}]<=${within});if(${h}a&&!tick)S[${k}]=t;`)
        turnsAt(`S[${k}]+${within}`, true)
        return h
      }
      case "call": {
        const a = x.args
        const fieldOf = (i: number) => (a[i] as { name: string }).name
        const msOf = (i: number) => (a[i] as { ms: number }).ms
        const label = () => `${x.fn}(${a.map((y) => (y.k === "dur" ? formatDuration(y.ms) : show(y))).join(", ")})`
        let code: string
        if (windowFns.has(x.fn)) {
          const w = needs.window(fieldOf(0), msOf(1), x.fn)
          const reader = `w${x.fn[0]!.toUpperCase()}${x.fn.slice(1)}`
          code = x.fn === "zscore" ? `${reader}(W,${w * H},v[o+${schema.byName.get(fieldOf(0))!.index}])` : `${reader}(W,${w * H})`
        } else switch (x.fn) {
          case "ewma": code = `T[${needs.tracker("ewma", fieldOf(0), msOf(1)).offset}]`; break
          case "ewma_z": code = `T[${needs.tracker("ewma", fieldOf(0), msOf(1)).offset + 4}]`; break
          case "prev": code = `T[${needs.tracker("prev", fieldOf(0)).offset}]`; break
          case "elapsed": code = `((T[0]-T[1])/1000)`; break
          case "absent": rule.timed = true; rule.timerMs = Math.max(rule.timerMs, msOf(0)); code = `(t-T[0]>=${msOf(0)})`; turnsAt(`T[0]+${msOf(0)}`); break
          case "unchanged": {
            rule.timed = true
            rule.timerMs = Math.max(rule.timerMs, msOf(1))
            const k = needs.tracker("change", fieldOf(0)).offset + 1
            code = `(t-T[${k}]>=${msOf(1)})`
            turnsAt(`T[${k}]+${msOf(1)}`)
            break
          }
          case "missing": return `(v[o+${schema.byName.get(fieldOf(0))!.index}]!==v[o+${schema.byName.get(fieldOf(0))!.index}])`
          case "abs": return `Math.abs(${go(a[0]!)})`
          case "sqrt": return `Math.sqrt(${go(a[0]!)})`
          case "least": return `Math.min(${go(a[0]!)},${go(a[1]!)})`
          case "greatest": return `Math.max(${go(a[0]!)},${go(a[1]!)})`
          case "haversine": return `hav(${a.map(go).join(",")})`
          default: throw new TypeError(`compiler: function ${x.fn} has no code generator`)
        }
        if (functions[x.fn]!.result === "num") rule.leaves.set(label(), code)
        return code
      }
    }
  }
  return go(e)
}

/**
 * Parses generated code without running it, so a compiler fault is refused here, as an issue
 * (load.ts), before a plan is stored or handed to the engine. The engine builds the same text.
 */
const syntaxChecked = (body: string, params: string): string => {
  new Function(...planHelpers, `return function(${params}){${body}}`)
  return body
}

const encoder = new TextEncoder()
/**
 * FNV-1a 32 of the UTF-8 bytes of `s`: the hash of runtime/shard.ts, written again here so the
 * rule language depends on nothing above config/. Rule identities in checkpoints depend on it
 * (actors/device/engine/link.test.ts pins the two equal).
 */
const fnv1a32 = (s: string): number => {
  let h = 0x811c9dc5
  for (const b of encoder.encode(s)) {
    h ^= b
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** Semantic identity of a rule: what must stay equal for its alert state to survive a reload. */
export const ruleIdentity = (r: RuleSpec): string =>
  `${r.name}#${fnv1a32([show(r.when), r.forMs, r.clear ? show(r.clear) : "", r.clearForMs, r.severity, r.escalate.map((s) => `${s.afterMs}:${s.severity}`).join(",")].join("|")).toString(16)}`

/** JS (over the tracker slots T) for the device time before which ticks cannot make `e` true; see RulePlan.floorCode. */
const floorOf = (e: Expr, needs: Needs): string => {
  if (e.k === "call" && e.fn === "absent" && e.args[0]?.k === "dur") return `(T[0]+${e.args[0].ms})`
  if (e.k === "call" && e.fn === "unchanged" && e.args[0]?.k === "field" && e.args[1]?.k === "dur") {
    return `(T[${needs.tracker("change", e.args[0].name).offset + 1}]+${e.args[1].ms})`
  }
  if (e.k === "binary" && (e.op === "and" || e.op === "or")) return `Math.${e.op === "and" ? "max" : "min"}(${floorOf(e.left, needs)},${floorOf(e.right, needs)})`
  return "-Infinity"
}

/**
 * Compiles a checked rule set to a plan: the JS source of its functions (the engine turns them into
 * functions, no AST walk per reading) and the windows and trackers it needs, each shared by all
 * rules that use it.
 */
export const compileRuleSet = (spec: RuleSetSpec, schema: DeviceSchema, checksum: string): RuleSetPlan => {
  const needs = new Needs(schema)
  const paramNames = Object.keys(spec.params)
  let base = 0
  const scanParts: string[] = []
  const rules: RulePlan[] = spec.rules.map((r, ri) => {
    const ruleBase = base
    // R[base..base+4): phase, since, openedAt, escalation steps; then the rule's sequence slots.
    const st = { slots: base + 4, timed: false, timerMs: 0, pre: [] as string[], leaves: new Map<string, string>(), flips: [] as string[] }
    const whenCode = gen(r.when, schema, paramNames, needs, st)
    const whenPre = st.pre.splice(0)
    // Fast path: an idle rule whose (side-effect free) condition is false needs nothing else.
    // Rules with sequence steps update their slots while evaluating, so they always take the full step.
    scanParts.push(whenPre.length
      ? `if(E[${ri}]===1)Q[n++]=${ri};`
      : `if(E[${ri}]===1&&(S[${ruleBase}]!==0||${whenCode}))Q[n++]=${ri};`)
    const clearCode = r.clear ? gen(r.clear, schema, paramNames, needs, st) : undefined
    const clearPre = st.pre.splice(0)
    base = st.slots
    const values = [...st.leaves].map(([k, code]) => `${JSON.stringify(k)}:${code}`).join(",")
    return {
      name: r.name,
      identity: ruleIdentity(r),
      spec: r,
      timed: st.timed,
      timerMs: st.timed ? st.timerMs + r.forMs : 0,
      // NaN (a tracker not yet set) reads as no bound.
      floorCode: st.timed ? syntaxChecked(`const f=${floorOf(r.when, needs)};return f===f?f:-Infinity;`, planArgs.floor) : undefined,
      flipsCode: st.timed ? syntaxChecked(`let f=Infinity,x;${st.flips.join(";")};return f;`, planArgs.flips) : undefined,
      base: ruleBase,
      size: st.slots - ruleBase,
      whenCode: syntaxChecked(`${whenPre.join("")}return ${whenCode};`, planArgs.cond),
      clearCode: clearCode === undefined ? undefined : syntaxChecked(`${clearPre.join("")}return ${clearCode};`, planArgs.cond),
      valuesCode: syntaxChecked(`return {${values}};`, planArgs.cond),
      severity: r.severity,
      escalate: r.escalate,
      channels: r.channels,
      throttleMs: r.throttleMs,
    }
  })
  const trackers = needs.trackers
  const upd = trackers.map((tr) => {
    const x = `v[o+${tr.field}]`
    const s = tr.offset
    switch (tr.kind) {
      case "prev": return `T[${s}]=T[${s + 1}];T[${s + 1}]=${x};`
      case "change": return `{const x=${x};if(x===x&&(x!==T[${s}]||T[${s + 1}]!==T[${s + 1}])){T[${s}]=x;T[${s + 1}]=t;}}`
      // mean, variance, last time, count, z of the newest value against the EWMA before it
      case "ewma": return `{const x=${x};if(x===x){if(T[${s + 3}]===0){T[${s}]=x;T[${s + 1}]=0;T[${s + 4}]=0;}else{` +
        `const a=1-Math.exp(-Math.max(0,t-T[${s + 2}])/${tr.tauMs}),d=x-T[${s}],sd=Math.sqrt(T[${s + 1}]);T[${s + 4}]=sd>0?d/sd:0;` +
        `const inc=a*d;T[${s}]+=inc;T[${s + 1}]=(1-a)*(T[${s + 1}]+d*inc);}T[${s + 2}]=t;T[${s + 3}]++;}}`
    }
  })
  return {
    spec,
    checksum,
    width: schema.fields.length,
    latenessMs: spec.latenessMs,
    paramNames,
    windows: needs.windows,
    trackers,
    trackerSlots: needs.slots,
    scanCode: syntaxChecked(`let n=0;${scanParts.join("")}return n;`, planArgs.scan),
    ruleStateSize: base,
    trackersCode: syntaxChecked(upd.join(""), planArgs.trackers),
    rules,
  }
}
