import { Result, Schema, SchemaTransformation } from "effect"
import { badParameter } from "./errors.ts"

/**
 * One declared input of a route (query string, path segment or JSON body field): the schema that
 * decodes it, and a description used both in the 400 answer and in the OpenAPI document.
 */
export interface Param<A = unknown> {
  /** Decodes the raw input (a string for query/path parameters; any JSON value for a body). */
  readonly schema: Schema.Codec<A, any>
  /** What a valid value looks like, in words ("an integer in [1, 10000]"). */
  readonly expected: string
  readonly required: boolean
  /** JSON Schema of the decoded value (OpenAPI). */
  readonly jsonSchema: Record<string, unknown>
}

const jsonSchemaOf = (s: Schema.Top): Record<string, unknown> => Schema.toJsonSchemaDocument(Schema.toType(s) as Schema.Top).schema as Record<string, unknown>

const make = <A>(schema: Schema.Codec<A, any>, expected: string, required = false): Param<A> =>
  ({ schema, expected, required, jsonSchema: { ...jsonSchemaOf(schema as Schema.Top), description: expected } })

const IntFromString = (min: number, max: number) =>
  Schema.NumberFromString.pipe(Schema.decodeTo(Schema.Int.check(Schema.isBetween({ minimum: min, maximum: max }))))

/** Constructors for the parameter kinds the API uses. */
export const p = {
  /** An integer in [min, max] given as a string (query/path). */
  int: (min: number, max: number, what = "") => make(IntFromString(min, max), `${what ? `${what}: ` : ""}an integer in [${min}, ${max}]`),
  /** Epoch milliseconds or an ISO-8601 time. */
  time: (what: string) => make(
    Schema.String.pipe(Schema.decodeTo(
      Schema.Number.check(Schema.makeFilter((n: number) => Number.isFinite(n) && n >= 0 && n <= 4_294_967_295_000)),
      SchemaTransformation.transform({ decode: (s: string) => (/^\d+$/.test(s) ? Number(s) : Date.parse(s)), encode: (n: number) => String(n) }),
    )),
    `${what}: epoch milliseconds or an ISO-8601 time`,
  ),
  /** One of a fixed set of words. */
  oneOf: <const L extends ReadonlyArray<string>>(values: L, what = "") => make(Schema.Literals(values), `${what ? `${what}: ` : ""}one of ${values.join(", ")}`),
  /** A string matching `re`. */
  match: (re: RegExp, what: string) => make(Schema.String.check(Schema.isPattern(re)), `${what} matching ${re}`),
  /** A comma-separated list of strings matching `re`. */
  list: (re: RegExp, what: string) => make(
    Schema.String.pipe(Schema.decodeTo(
      Schema.Array(Schema.String.check(Schema.isPattern(re))).check(Schema.isMinLength(1)),
      SchemaTransformation.transform<ReadonlyArray<string>, string>({ decode: (s) => s.split(",").map((x) => x.trim()).filter((x) => x.length > 0), encode: (a) => a.join(",") }),
    )),
    `${what}: comma-separated, each matching ${re}`,
  ),
  /** Any JSON value matching `schema` (request bodies). */
  body: <A>(schema: Schema.Codec<A, any>, expected: string) => make(schema, expected, true),
}

/** Marks a parameter as required. */
export const required = <A>(param: Param<A>): Param<A> => ({ ...param, required: true })

/** The decoded values of a set of declared parameters. */
export type Decoded<P extends Record<string, Param<any>>> = { [K in keyof P]: P[K] extends Param<infer A> ? A | undefined : never }

/**
 * Decodes raw inputs against declared parameters; the first bad or missing one becomes a 400
 * naming it. Undeclared query parameters are refused too (a typo is never silently ignored).
 */
export const decodeParams = <P extends Record<string, Param<any>>>(declared: P, raw: Record<string, unknown>, where = "query"): Decoded<P> => {
  for (const k of Object.keys(raw)) {
    if (!(k in declared)) throw badParameter(k, `not a ${where} parameter of this route (known: ${Object.keys(declared).join(", ") || "none"})`)
  }
  const out: Record<string, unknown> = {}
  for (const [k, param] of Object.entries(declared)) {
    const v = raw[k]
    if (v === undefined || v === "") {
      if (param.required) throw badParameter(k, `required: ${param.expected}`)
      continue
    }
    const r = Schema.decodeUnknownResult(param.schema as Schema.Codec<unknown, unknown>)(v)
    if (Result.isFailure(r)) throw badParameter(k, param.expected, `parameter '${k}': expected ${param.expected}; ${r.failure.message.split("\n")[0]}`)
    out[k] = r.success
  }
  return out as Decoded<P>
}
