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

/**
 * Declares a wire message. The schema is compiled once here; decoding is a plain function call
 * (no Effect run), a few microseconds for a message of a dozen fields.
 */
export const wireMessage = <S extends Schema.Codec<unknown, unknown, never, never>>(name: string, schema: S): WireMessage<S["Type"]> => {
  const parse = SchemaParser.decodeUnknownResult(schema as unknown as Schema.Codec<S["Type"], unknown, never, never>)
  const decode = (input: unknown): S["Type"] => {
    const r = parse(input)
    if (Result.isSuccess(r)) return r.success
    const first = formatter(r.failure).issues[0]
    throw new WireDecodeError({ wire: name, path: pathOf(first?.path), expected: first?.message ?? "a valid message" })
  }
  const fromJson = (data: Uint8Array | string): S["Type"] => {
    let v: unknown
    try {
      v = JSON.parse(typeof data === "string" ? data : textDecoder.decode(data))
    } catch (e) {
      throw new WireDecodeError({ wire: name, path: "", expected: `JSON (${(e as Error).message})` })
    }
    return decode(v)
  }
  const toJson = (value: S["Type"]): string => JSON.stringify(value)
  return { name, schema, decode, fromJson, toJson, toBytes: (value) => textEncoder.encode(toJson(value)) }
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
