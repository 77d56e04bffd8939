/**
 * A long-running command (`ops node`, `ops gateway`, `ops local-cluster`, `ops up`): start it,
 * wait until it ends by itself (`until`) or the CLI is interrupted (SIGINT/SIGTERM), then stop it.
 * Starting stays interruptible: a signal during a long start (ClickHouse not up yet, NATS not
 * answering) ends the process at once, as before, instead of waiting for the start to finish.
 */
import { Effect } from "effect"
import { attempt, type OpsError } from "./errors.ts"

export const service = <R>(
  start: () => Promise<R>,
  stop: (running: R) => Promise<void>,
  until: (running: R) => Promise<void> = () => new Promise<void>(() => {}),
): Effect.Effect<void, OpsError> =>
  attempt(start).pipe(Effect.flatMap((r) => Effect.promise(() => until(r)).pipe(Effect.ensuring(Effect.promise(() => stop(r))))))
