import { Data, Result, Schema, SchemaIssue, SchemaParser } from "effect"

/**
 * A message from another process (NATS request, stream message, KV value) that is not what its
 * schema says. `wire` names the message (e.g. `akis.rpc request`), `path` where it went wrong
 * (`values.x`, empty for the whole message) and `expected` what was expected there.
 */
export class WireDecodeError extends Data.TaggedError("WireDecodeError")<{
  readonly wire: string
  readonly path: string
  readonly expected: string
}> {
  override get message() {
    return `${this.wire}: ${this.path === "" ? "" : `at ${this.path}: `}${this.expected}`
  }
}

/** True for a {@link WireDecodeError} (by tag, so it holds across module copies). */
export const isWireDecodeError = (e: unknown): e is WireDecodeError =>
  typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "WireDecodeError"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()
const textDecoder = new TextDecoder()
const textEncoder = new TextEncoder()

const pathOf = (path: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined): string =>
  (path ?? []).map((p) => String(typeof p === "object" ? p.key : p)).join(".")

/** One message of the wire protocol: its schema and the functions both ends use to read and write it. */
export interface WireMessage<T> {
  /** What the message is, used in errors (`akis.rpc request`). */
  readonly name: string
  readonly schema: Schema.Top
  /** Checks an already parsed value; throws {@link WireDecodeError} naming the first wrong field. */
  decode(input: unknown): T
  /** Parses JSON (bytes or text) and checks it; bad JSON is a {@link WireDecodeError} at the root. */
  fromJson(data: Uint8Array | string): T
  /** The JSON text of a value (what {@link fromJson} reads back). */
  toJson(value: T): string
  /** The UTF-8 bytes of {@link toJson}. */
  toBytes(value: T): Uint8Array
}

/** A message's JSON functions around its `decode`. */
const withJson = <T>(name: string, schema: Schema.Top, decode: (input: unknown) => T): WireMessage<T> => {
  const fromJson = (data: Uint8Array | string): T => {
    let v: unknown
    try {
      v = JSON.parse(typeof data === "string" ? data : textDecoder.decode(data))
    } catch (e) {
      throw new WireDecodeError({ wire: name, path: "", expected: `JSON (${(e as Error).message})` })
    }
    return decode(v)
  }
  const toJson = (value: T): string => JSON.stringify(value)
  return { name, schema, decode, fromJson, toJson, toBytes: (value) => textEncoder.encode(toJson(value)) }
}

/**
 * Declares a wire message. The schema is compiled once here; decoding is a plain function call
 * (no Effect run), a few microseconds for a message of a dozen fields.
 */
export const wireMessage = <S extends Schema.Codec<unknown, unknown, never, never>>(name: string, schema: S): WireMessage<S["Type"]> => {
  const parse = SchemaParser.decodeUnknownResult(schema as unknown as Schema.Codec<S["Type"], unknown, never, never>)
  return withJson(name, schema, (input: unknown): S["Type"] => {
    const r = parse(input)
    if (Result.isSuccess(r)) return r.success
    const first = formatter(r.failure).issues[0]
    throw new WireDecodeError({ wire: name, path: pathOf(first?.path), expected: first?.message ?? "a valid message" })
  })
}

/**
 * Declares a message that is one of several shapes told apart by the field `key` (`op`, `ok`):
 * the field is read first, so a wrong one is named (`at op: Expected one of …`) and a bad field
 * of the chosen shape is named by its own path, where a plain union would only say "none matched".
 */
export const wireUnion = <const K extends string, const M extends Record<string, Schema.Codec<unknown, unknown, never, never>>>(
  name: string, key: K, members: M,
): WireMessage<M[keyof M]["Type"]> => {
  const byTag = new Map(Object.entries(members).map(([tag, schema]) => [tag, wireMessage(name, schema)]))
  const expected = `Expected one of ${[...byTag.keys()].map((t) => JSON.stringify(t)).join(", ")}`
  return withJson(name, Schema.Union(Object.values(members)), (input: unknown): M[keyof M]["Type"] => {
    if (typeof input !== "object" || input === null || Array.isArray(input)) throw new WireDecodeError({ wire: name, path: "", expected: "Expected object" })
    const tag = (input as Record<string, unknown>)[key]
    const m = typeof tag === "string" || typeof tag === "boolean" || typeof tag === "number" ? byTag.get(String(tag)) : undefined
    if (!m) throw new WireDecodeError({ wire: name, path: key, expected })
    return m.decode(input)
  })
}

/**
 * A schema checked by a plain predicate: for large arrays (a checkpoint's actors) where a loop
 * costs far less than a schema per element. `expected` is what the error says was expected.
 */
export const checkedBy = <T>(is: (u: unknown) => u is T, expected: string) =>
  Schema.declare(is, { expected })

/**
 * A reporter for dropped messages that logs the first of each kind only (with its reason): the
 * receiver counts every one in its metrics, and a stream of bad messages writes one log line.
 */
export const logFirstOfEach = (log: (kind: string, reason: string) => void): ((kind: string, reason: string) => void) => {
  const logged = new Set<string>()
  return (kind, reason) => {
    if (logged.has(kind)) return
    logged.add(kind)
    log(kind, reason)
  }
}

/** What `read` returns, or undefined when it throws a {@link WireDecodeError} (other errors go on). */
export const orUndefined = <T>(read: () => T): T | undefined => {
  try {
    return read()
  } catch (e) {
    if (isWireDecodeError(e)) return undefined
    throw e
  }
}
