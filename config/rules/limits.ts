import type { AkisConfig } from "../schema.ts"
import type { Expr } from "./ast.ts"

/**
 * Bounds a rule set must stay within, so that applying one can never take a node down: the
 * expression depth (the parser, checker and compiler recurse over it), the number of rules (each is
 * evaluated on every reading), and the window memory every device actor holds for the set.
 */
export interface RuleLimits {
  /** Deepest expression nesting (parentheses, operators, calls). */
  readonly maxExprDepth: number
  readonly maxRules: number
  /** Window ring memory per device, at `maxReadingsPerSec`. */
  readonly maxWindowBytesPerDevice: number
  /** The fastest a device can send (the gateway's per-device rate limit): rings are sized for it. */
  readonly maxReadingsPerSec: number
}

export const defaultRuleLimits: RuleLimits = {
  maxExprDepth: 64,
  maxRules: 256,
  maxWindowBytesPerDevice: 1_048_576,
  maxReadingsPerSec: 50,
}

/** The limits a configuration sets (rules.* and the gateway's per-device rate). */
export const ruleLimitsOf = (cfg: Pick<AkisConfig, "rules" | "gateway">): RuleLimits => ({
  maxExprDepth: cfg.rules.maxExprDepth,
  maxRules: cfg.rules.maxRules,
  maxWindowBytesPerDevice: cfg.rules.maxWindowBytesPerDevice,
  maxReadingsPerSec: cfg.gateway.maxReadingsPerSec,
})

/** The first node (in depth-first order) deeper than `max`, found without recursion; undefined when within. */
export const tooDeep = (root: Expr, max: number): Expr | undefined => {
  const stack: Array<[Expr, number]> = [[root, 1]]
  while (stack.length) {
    const [e, d] = stack.pop()!
    if (d > max) return e
    for (const c of children(e)) stack.push([c, d + 1])
  }
  return undefined
}

const children = (e: Expr): ReadonlyArray<Expr> => {
  switch (e.k) {
    case "unary": return [e.arg]
    case "binary": return [e.left, e.right]
    case "then": return [e.first, e.second, e.within]
    case "call": return e.args
    default: return []
  }
}

/** Window calls of an expression: `fn(field, duration)` with the character position of the call. */
export const windowCalls = (root: Expr, windowFns: ReadonlySet<string>): Array<{ fn: string; field: string; ms: number; pos: number }> => {
  const out: Array<{ fn: string; field: string; ms: number; pos: number }> = []
  const stack: Expr[] = [root]
  while (stack.length) {
    const e = stack.pop()!
    if (e.k === "call" && windowFns.has(e.fn) && e.args[0]?.k === "field" && e.args[1]?.k === "dur") {
      out.push({ fn: e.fn, field: e.args[0].name, ms: e.args[1].ms, pos: e.pos })
    }
    stack.push(...children(e))
  }
  return out
}
