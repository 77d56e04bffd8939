/**
 * The CLI's failures, carried in the Effect error channel. A handler never prints an error or
 * exits: it fails with one of these and ops/cli.ts turns it into one line on stderr and the
 * exit code below (`exitCodeOf`). Help and usage errors of effect/cli's parser (CliError) are
 * printed by the parser and exit 2.
 */
import { Data, Effect } from "effect"
import { ConfigInvalid } from "../../../config/index.ts"
import { NatsUnavailable, NoAnswer } from "../../../runtime/index.ts"

/** Exit codes of every `ops` command (docs/decisions.md, "CLI"). */
export const exitCodes = {
  ok: 0,
  /** the command ran and failed: refused rules, unknown token, a benchmark that did not finish … */
  failed: 1,
  /** bad flags or arguments: nothing was done */
  usage: 2,
  /** a server the command needs did not answer: NATS, ClickHouse, a node */
  unreachable: 3,
  /** the configuration file or an AKIS_* override is invalid */
  config: 4,
} as const

/** The command was called wrongly (a flag value out of range, a malformed id): exit 2. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}
/** The command ran and failed: exit 1. `lines` go to stderr before the message (e.g. one per rule problem). */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{ readonly message: string; readonly lines?: ReadonlyArray<string> }> {}
/** A server did not answer: exit 3. */
export class Unreachable extends Data.TaggedError("Unreachable")<{ readonly message: string }> {}
/** The configuration is invalid: exit 4. */
export class BadConfig extends Data.TaggedError("BadConfig")<{ readonly message: string }> {}

export type OpsError = UsageError | CommandFailed | Unreachable | BadConfig

/** What a failed command prints and how it exits. Anything that is not one of ours (a defect) is a failure. */
export const report = (e: unknown): { readonly lines: ReadonlyArray<string>; readonly code: number } => {
  if (e instanceof UsageError) return { lines: [e.message], code: exitCodes.usage }
  if (e instanceof Unreachable) return { lines: [e.message], code: exitCodes.unreachable }
  if (e instanceof BadConfig) return { lines: [e.message], code: exitCodes.config }
  if (e instanceof CommandFailed) return { lines: [...(e.lines ?? []), ...(e.message ? [e.message] : [])], code: exitCodes.failed }
  return { lines: [e instanceof Error ? e.message : String(e)], code: exitCodes.failed }
}

/** What an exception that is neither ours nor a known library error becomes (default: CommandFailed with its message). */
export type Fallback = (message: string, error: unknown) => OpsError

/** Translates an exception from a library call into our errors, by tag: bad config, NATS down or unanswered, or `fallback`. */
export const classify = (e: unknown, fallback: Fallback = (message) => new CommandFailed({ message })): OpsError => {
  if (e instanceof UsageError || e instanceof CommandFailed || e instanceof Unreachable || e instanceof BadConfig) return e
  if (e instanceof ConfigInvalid) return new BadConfig({ message: e.message })
  if (e instanceof NatsUnavailable) return new Unreachable({ message: e.message })
  // nobody answered a request (runtime/nats translates NATS's no-responders and timeouts into it)
  if (e instanceof NoAnswer) return new Unreachable({ message: e.message })
  return fallback(e instanceof Error ? e.message : typeof e === "object" && e && "message" in e ? String(e.message) : String(e), e)
}

/** Runs a promise-returning step; whatever it throws becomes a typed error (see `classify`). */
export const attempt = <A>(f: () => Promise<A> | A, fallback?: Fallback): Effect.Effect<A, OpsError> =>
  Effect.tryPromise({ try: async () => f(), catch: (e) => classify(e, fallback) })

/** Fails with a UsageError naming the problem when `bad` is a string. */
export const usage = (bad: string | false | undefined | null): Effect.Effect<void, UsageError> =>
  typeof bad === "string" ? Effect.fail(new UsageError({ message: bad })) : Effect.void
