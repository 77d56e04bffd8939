/** Expression AST of the rule language. `pos` is the character offset inside the expression text. */
export type Expr =
  | { readonly k: "num"; readonly pos: number; readonly value: number }
  | { readonly k: "bool"; readonly pos: number; readonly value: boolean }
  | { readonly k: "dur"; readonly pos: number; readonly ms: number; readonly text: string }
  | { readonly k: "field"; readonly pos: number; readonly name: string }
  | { readonly k: "param"; readonly pos: number; readonly name: string }
  | { readonly k: "unary"; readonly pos: number; readonly op: "-" | "not"; readonly arg: Expr }
  | { readonly k: "binary"; readonly pos: number; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr }
  | { readonly k: "call"; readonly pos: number; readonly fn: string; readonly args: ReadonlyArray<Expr> }
  | { readonly k: "then"; readonly pos: number; readonly first: Expr; readonly second: Expr; readonly within: Expr }

export type BinaryOp = "+" | "-" | "*" | "/" | "%" | "<" | "<=" | ">" | ">=" | "==" | "!=" | "and" | "or"

/** Canonical text of an expression (used for rule identity hashes and messages). */
export const show = (e: Expr): string => {
  switch (e.k) {
    case "num": return String(e.value)
    case "bool": return String(e.value)
    case "dur": return `${e.ms}ms`
    case "field": return e.name
    case "param": return `$${e.name}`
    case "unary": return e.op === "-" ? `-(${show(e.arg)})` : `not (${show(e.arg)})`
    case "binary": return `(${show(e.left)} ${e.op} ${show(e.right)})`
    case "call": return `${e.fn}(${e.args.map(show).join(", ")})`
    case "then": return `(${show(e.first)} then ${show(e.second)} within ${show(e.within)})`
  }
}
