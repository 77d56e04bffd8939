import { describe, expect, test } from "bun:test"
import { Cause, Exit } from "effect"
import { CliError } from "effect/cli"
import { ConfigInvalid } from "../../../config/index.ts"
import { NatsUnavailable, NoAnswer, StreamNotFound } from "../../../runtime/index.ts"
import { BadConfig, classify, CommandFailed, Unreachable, UsageError } from "./errors.ts"
import { outcomeOf } from "./outcome.ts"

const fail = (e: unknown) => Exit.fail(e)

describe("exit codes, decided in one place", () => {
  const cases: Array<[string, Exit.Exit<unknown, unknown>, boolean, { lines: string[]; code: number }]> = [
    ["success", Exit.succeed(undefined), false, { lines: [], code: 0 }],
    ["a failed command", fail(new CommandFailed({ message: "no token ab12cd34" })), false, { lines: ["no token ab12cd34"], code: 1 }],
    ["a failure with detail lines first", fail(new CommandFailed({ message: "2 problems in r.yaml", lines: ["r.yaml:3:1: a", "r.yaml:4:1: b"] })), false,
      { lines: ["r.yaml:3:1: a", "r.yaml:4:1: b", "2 problems in r.yaml"], code: 1 }],
    ["a usage error", fail(new UsageError({ message: "--role must be one of viewer" })), false, { lines: ["--role must be one of viewer"], code: 2 }],
    ["an unreachable server", fail(new Unreachable({ message: "cannot reach NATS" })), false, { lines: ["cannot reach NATS"], code: 3 }],
    ["a bad configuration", fail(new BadConfig({ message: "invalid config" })), false, { lines: ["invalid config"], code: 4 }],
    ["a parse error (printed by effect/cli)", fail(new CliError.ShowHelp({ commandPath: ["ops"], errors: [new CliError.MissingArgument({ argument: "name" })] })), false, { lines: [], code: 2 }],
    ["help asked for", fail(new CliError.ShowHelp({ commandPath: ["ops"], errors: [] })), false, { lines: [], code: 0 }],
    ["stopped by SIGTERM/SIGINT", Exit.failCause(Cause.interrupt()), true, { lines: [], code: 0 }],
    ["interrupted without a signal", Exit.failCause(Cause.interrupt()), false, { lines: [], code: 130 }],
    ["a defect", Exit.die(new Error("boom")), false, { lines: ["boom"], code: 1 }],
  ]
  for (const [name, exit, signalled, want] of cases) {
    test(name, () => expect(outcomeOf(exit, signalled)).toEqual(want))
  }

  test("library errors are classified once: config → 4, NATS down or unanswered → 3, the rest → 1", () => {
    const code = (e: unknown) => outcomeOf(Exit.fail(classify(e)), false).code
    expect(code(new ConfigInvalid({ message: "invalid config" }))).toBe(4)
    expect(code(new NatsUnavailable({ servers: ["nats://127.0.0.1:1"], cause: new Error("refused") }))).toBe(3)
    expect(code(new NoAnswer({ subject: "akis.ctl.drain.n1" }))).toBe(3)
    expect(code(new StreamNotFound({ stream: "KV_akis_members" }))).toBe(1)
    expect(code(new Error("stream not found"))).toBe(1)
    expect(code(new UsageError({ message: "x" }))).toBe(2)
    expect(outcomeOf(Exit.fail(classify(new Error("x"), (message) => new Unreachable({ message }))), false).code).toBe(3)
  })
})
