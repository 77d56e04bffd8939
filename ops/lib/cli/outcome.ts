/**
 * How a finished `ops` run ends: the lines for stderr and the exit code. Pure, so the mapping is
 * tested without processes (ops/lib/cli/outcome.test.ts); ops/cli.ts applies it.
 */
import { Cause, Exit } from "effect"
import { CliError } from "effect/cli"
import { exitCodes, report } from "./errors.ts"

export interface Outcome {
  readonly lines: ReadonlyArray<string>
  readonly code: number
}

/**
 * - success: 0;
 * - effect/cli's help (`--help`, a command group without a subcommand): 0; a parse error
 *   (unknown flag, missing or malformed value): 2; the parser has printed both already;
 * - our tagged errors: their message and code (errors.ts `exitCodes`);
 * - interrupted after SIGINT/SIGTERM (`signalled`): 0, a requested stop is not a failure;
 *   interrupted otherwise: 130;
 * - a defect (a bug): its message, 1.
 */
export const outcomeOf = (exit: Exit.Exit<unknown, unknown>, signalled: boolean): Outcome => {
  if (Exit.isSuccess(exit)) return { lines: [], code: exitCodes.ok }
  const cause = exit.cause
  if (Cause.hasInterruptsOnly(cause)) return { lines: [], code: signalled ? exitCodes.ok : 130 }
  const error = Cause.squash(cause)
  if (CliError.isCliError(error)) {
    if (error._tag === "ShowHelp") return { lines: [], code: error.errors.length ? exitCodes.usage : exitCodes.ok }
    return { lines: [error.message], code: exitCodes.usage }
  }
  return report(error)
}
