/** `ops lint` (`bun ops/lint.ts`): the house-style checks of ops/lib/lint.ts; exit 1 on an error. */
import { Console, Effect } from "effect"
import { Command } from "effect/cli"
import { CommandFailed } from "../lib/cli/errors.ts"
import { lint as check } from "../lib/lint.ts"

export const lint = Command.make("lint", {}, () =>
  Effect.gen(function* () {
    const { errors, warnings } = check()
    for (const w of warnings) yield* Console.error(`warning: ${w}`)
    for (const e of errors) yield* Console.error(`error: ${e}`)
    const summary = `lint: ${errors.length} error(s), ${warnings.length} warning(s)`
    if (errors.length) return yield* new CommandFailed({ message: summary })
    yield* Console.error(summary)
  })).pipe(Command.withDescription("house-style checks a type checker does not do (file length, errors, env, internals, pure behaviours)"))
