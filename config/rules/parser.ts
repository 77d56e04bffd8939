import type { BinaryOp, Expr } from "./ast.ts"
import { parseDuration } from "./duration.ts"

/** A syntax error at character `pos` of the expression text. */
export interface ExprError {
  readonly pos: number
  readonly message: string
}

type Tok =
  | { t: "num"; pos: number; value: number }
  | { t: "dur"; pos: number; text: string }
  | { t: "id"; pos: number; name: string }
  | { t: "param"; pos: number; name: string }
  | { t: "op"; pos: number; op: string }
  | { t: "end"; pos: number }

const ops3 = ["&&", "||", "<=", ">=", "==", "!="]
const ops1 = "+-*/%<>()!,"

const lex = (src: string): Tok[] | ExprError => {
  const out: Tok[] = []
  let i = 0
  while (i < src.length) {
    const c = src[i]!
    if (c === " " || c === "\t" || c === "\n" || c === "\r") { i++; continue }
    const start = i
    if (/[0-9.]/.test(c)) {
      while (i < src.length && /[0-9.]/.test(src[i]!)) i++
      if (i < src.length && /[eE]/.test(src[i]!) && /[-+0-9]/.test(src[i + 1] ?? "")) {
        i += 2
        while (i < src.length && /[0-9]/.test(src[i]!)) i++
      }
      const num = src.slice(start, i)
      if (!/^(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(num)) return { pos: start, message: `"${num}" is not a number` }
      if (i < src.length && /[a-zA-Z_]/.test(src[i]!)) {
        while (i < src.length && /[a-zA-Z_0-9]/.test(src[i]!)) i++
        out.push({ t: "dur", pos: start, text: src.slice(start, i) })
      } else out.push({ t: "num", pos: start, value: Number(num) })
      continue
    }
    if (/[a-zA-Z_]/.test(c) || (c === "$" && /[a-zA-Z_]/.test(src[i + 1] ?? ""))) {
      i++
      while (i < src.length && /[a-zA-Z_0-9]/.test(src[i]!)) i++
      out.push(c === "$" ? { t: "param", pos: start, name: src.slice(start + 1, i) } : { t: "id", pos: start, name: src.slice(start, i) })
      continue
    }
    const two = src.slice(i, i + 2)
    if (ops3.includes(two)) { out.push({ t: "op", pos: i, op: two }); i += 2; continue }
    if (c === "=") return { pos: i, message: `"=" is not an operator; compare with "=="` }
    if (c === "&" || c === "|") return { pos: i, message: `"${c}" is not an operator; use "and" / "or"` }
    if (ops1.includes(c)) { out.push({ t: "op", pos: i, op: c }); i++; continue }
    return { pos: i, message: `unexpected character "${c}"` }
  }
  out.push({ t: "end", pos: src.length })
  return out
}

class Fail {
  constructor(readonly err: ExprError) {}
}

/**
 * Parses one expression of the rule language; returns the AST or the first syntax error. Nesting
 * (parentheses, calls, prefix operators) deeper than `maxDepth` is an error, so no input can
 * overflow the stack here or in the checker and compiler that walk the tree.
 */
export const parseExpr = (src: string, maxDepth = 256): Expr | ExprError => {
  const toks = lex(src)
  if (!Array.isArray(toks)) return toks
  let i = 0
  let depth = 0
  const nested = <T>(pos: number, f: () => T): T => {
    if (++depth > maxDepth) fail(pos, `expression nests deeper than ${maxDepth} levels; split it into simpler rules`)
    try { return f() } finally { depth-- }
  }
  const peek = () => toks[i]!
  const fail = (pos: number, message: string): never => { throw new Fail({ pos, message }) }
  const isOp = (op: string) => { const t = peek(); return t.t === "op" && t.op === op }
  const isWord = (w: string) => { const t = peek(); return t.t === "id" && t.name === w }
  const describe = (t: Tok) =>
    t.t === "end" ? "end of expression" : t.t === "op" ? `"${t.op}"` : t.t === "id" ? `"${t.name}"` : t.t === "param" ? `"$${t.name}"` : t.t === "dur" ? `"${t.text}"` : `"${t.value}"`
  const expect = (op: string) => { if (!isOp(op)) fail(peek().pos, `expected "${op}" but found ${describe(peek())}`); i++ }

  const primary = (): Expr => {
    const t = peek()
    switch (t.t) {
      case "num": i++; return { k: "num", pos: t.pos, value: t.value }
      case "dur": {
        i++
        const ms = parseDuration(t.text)
        if (typeof ms === "string") fail(t.pos, ms)
        return { k: "dur", pos: t.pos, ms: ms as number, text: t.text }
      }
      case "param": i++; return { k: "param", pos: t.pos, name: t.name }
      case "id": {
        i++
        if (t.name === "true" || t.name === "false") return { k: "bool", pos: t.pos, value: t.name === "true" }
        if (["and", "or", "then", "within"].includes(t.name)) fail(t.pos, `"${t.name}" needs an operand before it`)
        if (!isOp("(")) return { k: "field", pos: t.pos, name: t.name }
        i++
        const args: Expr[] = []
        if (!isOp(")")) {
          for (;;) {
            args.push(nested(t.pos, expr))
            if (isOp(",")) { i++; continue }
            break
          }
        }
        expect(")")
        return { k: "call", pos: t.pos, fn: t.name, args }
      }
      case "op":
        if (t.op === "(") { i++; const e = nested(t.pos, expr); expect(")"); return e }
        return fail(t.pos, `expected a value but found ${describe(t)}`)
      case "end":
        return fail(t.pos, "expression ends too early")
    }
  }
  const unary = (): Expr => {
    const t = peek()
    if (t.t === "op" && t.op === "-") { i++; return { k: "unary", pos: t.pos, op: "-", arg: nested(t.pos, unary) } }
    return primary()
  }
  const binLevel = (next: () => Expr, table: Record<string, BinaryOp>) => (): Expr => {
    let left = next()
    for (;;) {
      const t = peek()
      const key = t.t === "op" ? t.op : t.t === "id" ? t.name : ""
      const op = Object.hasOwn(table, key) ? table[key] : undefined
      if (!op) return left
      i++
      left = { k: "binary", pos: t.pos, op, left, right: next() }
    }
  }
  const mul = binLevel(unary, { "*": "*", "/": "/", "%": "%" })
  const add = binLevel(mul, { "+": "+", "-": "-" })
  const cmpOps: Record<string, BinaryOp> = { "<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!=" }
  const cmp = (): Expr => {
    const left = add()
    const t = peek()
    if (t.t !== "op" || !Object.hasOwn(cmpOps, t.op)) return left
    i++
    const e: Expr = { k: "binary", pos: t.pos, op: cmpOps[t.op]!, left, right: add() }
    const u = peek()
    if (u.t === "op" && Object.hasOwn(cmpOps, u.op)) fail(u.pos, `comparisons cannot be chained; write "a < b and b < c"`)
    return e
  }
  const not = (): Expr => {
    const t = peek()
    if ((t.t === "id" && t.name === "not") || (t.t === "op" && t.op === "!")) { i++; return { k: "unary", pos: t.pos, op: "not", arg: nested(t.pos, not) } }
    return cmp()
  }
  const and = binLevel(not, { and: "and", "&&": "and" })
  const or = binLevel(and, { or: "or", "||": "or" })
  const expr = (): Expr => {
    const first = or()
    if (!isWord("then")) return first
    const pos = peek().pos
    i++
    const second = or()
    if (!isWord("within")) fail(peek().pos, `"A then B" needs a time limit: "A then B within 30s"`)
    i++
    const within = unary()
    if (isWord("then")) fail(peek().pos, `only one "then" per sequence; nest with parentheses`)
    return { k: "then", pos, first, second, within }
  }

  try {
    const e = expr()
    const t = peek()
    if (t.t !== "end") fail(t.pos, `unexpected ${describe(t)} after the end of the expression`)
    return e
  } catch (x) {
    if (x instanceof Fail) return x.err
    throw x
  }
}

/** Is this a parse error rather than an AST? */
export const isExprError = (x: Expr | ExprError): x is ExprError => !("k" in x)
