import type { Expr } from "./ast.ts"
import { formatDuration } from "./duration.ts"
import { functions, maxWindowMs, type Type } from "./functions.ts"
import type { ExprError } from "./parser.ts"
import { didYouMean } from "./suggest.ts"

/** What names an expression may use. */
export interface Scope {
  /** Field name → value type (`bool` for yes/no fields). */
  readonly fields: ReadonlyMap<string, "num" | "bool">
  readonly params: ReadonlySet<string>
}

/** Where an expression starts in the text (binary nodes sit at their operator). */
const startOf = (e: Expr): number => (e.k === "binary" ? startOf(e.left) : e.k === "then" ? startOf(e.first) : e.pos)

const typeName = (t: Type) => (t === "num" ? "a number" : t === "bool" ? "a yes/no condition" : "a duration")

/**
 * Type-checks an expression, collecting every error with its position. Returns the expression's
 * type (undefined when it could not be determined).
 */
export const checkExpr = (e: Expr, scope: Scope, errors: ExprError[]): Type | undefined => {
  const err = (pos: number, message: string): undefined => { errors.push({ pos, message }) ; return undefined }
  const want = (x: Expr, t: Type, what: string): void => {
    const got = go(x)
    if (got === undefined || got === t) return
    if (t === "num" && got === "bool" && x.k === "field") {
      err(x.pos, `${x.name} is a yes/no field; use it as a condition (${x.name} or not ${x.name}), or avg(${x.name}, 60s) for the share of time it was on`)
    } else if (t === "num" && got === "dur") {
      err(startOf(x), `a duration cannot be used as a number in ${what}; write the number without a unit`)
    } else {
      err(startOf(x), `${what} needs ${typeName(t)}, but this is ${typeName(got)}`)
    }
  }
  const go = (x: Expr): Type | undefined => {
    switch (x.k) {
      case "num": return "num"
      case "bool": return "bool"
      case "dur": return "dur"
      case "field": {
        const t = scope.fields.get(x.name)
        if (t) return t
        if (Object.hasOwn(functions, x.name)) return err(x.pos, `${x.name} is a function; call it as ${x.name}(...)`)
        if (scope.params.has(x.name)) return err(x.pos, `unknown field "${x.name}"; parameters are written $${x.name}`)
        return err(x.pos, `unknown field "${x.name}"${didYouMean(x.name, scope.fields.keys())}`)
      }
      case "param":
        if (scope.params.has(x.name)) return "num"
        return err(x.pos, `unknown parameter "$${x.name}"${didYouMean(x.name, scope.params)}; declare it under params:`)
      case "unary":
        if (x.op === "-") { want(x.arg, "num", `"-"`); return "num" }
        want(x.arg, "bool", `"not"`)
        return "bool"
      case "binary": {
        if (x.op === "and" || x.op === "or") {
          want(x.left, "bool", `"${x.op}"`)
          want(x.right, "bool", `"${x.op}"`)
          return "bool"
        }
        if ((x.op === "==" || x.op === "!=")) {
          const l = go(x.left)
          const r = go(x.right)
          if (l && r && l !== r) {
            const f = x.left.k === "field" ? x.left : x.right.k === "field" ? x.right : undefined
            if (f?.k === "field" && scope.fields.get(f.name) === "bool") {
              return err(x.pos, `${f.name} is a yes/no field; write ${f.name} or not ${f.name} instead of comparing it with a number`)
            }
            return err(x.pos, `"${x.op}" compares ${typeName(l)} with ${typeName(r)}`)
          }
          if (l === "dur") return err(x.pos, `durations can only be used as function arguments`)
          return "bool"
        }
        const what = `"${x.op}"`
        want(x.left, "num", what)
        want(x.right, "num", what)
        return x.op === "+" || x.op === "-" || x.op === "*" || x.op === "/" || x.op === "%" ? "num" : "bool"
      }
      case "then":
        want(x.first, "bool", `the first step of "then"`)
        want(x.second, "bool", `the second step of "then"`)
        if (x.within.k === "num") err(x.within.pos, `duration ${x.within.value} is missing a unit; write within ${x.within.value}s`)
        else if (x.within.k !== "dur") err(startOf(x.within), `"within" needs a duration with a unit, e.g. within 30s`)
        return "bool"
      case "call": {
        const sig = Object.hasOwn(functions, x.fn) ? functions[x.fn] : undefined
        if (!sig) {
          for (const a of x.args) go(a)
          return err(x.pos, `unknown function "${x.fn}"${didYouMean(x.fn, Object.keys(functions))}`)
        }
        const usage = `${x.fn}(${sig.args.map((a) => (a === "field" ? "field" : a === "dur" ? "duration" : "number")).join(", ")})`
        if (x.args.length !== sig.args.length) {
          return err(x.pos, `${x.fn} takes ${sig.args.length} argument${sig.args.length === 1 ? "" : "s"}: ${usage}`)
        }
        sig.args.forEach((kind, n) => {
          const a = x.args[n]!
          if (kind === "field") {
            if (a.k !== "field") err(startOf(a), `argument ${n + 1} of ${x.fn} must be a field name: ${usage}`)
            else go(a)
          } else if (kind === "dur") {
            if (a.k === "num") err(a.pos, `duration ${a.value} is missing a unit; write ${a.value}s (or ms, m, h)`)
            else if (a.k !== "dur") err(startOf(a), `argument ${n + 1} of ${x.fn} must be a duration such as 10s: ${usage}`)
            else if (a.ms <= 0) err(a.pos, `duration must be positive`)
            else if (sig.category === "window" && a.ms > maxWindowMs) {
              err(a.pos, `window ${a.text} is longer than the ${formatDuration(maxWindowMs)} limit (windows keep every reading)`)
            }
          } else want(a, "num", `argument ${n + 1} of ${x.fn}`)
        })
        return sig.result
      }
    }
  }
  return go(e)
}
