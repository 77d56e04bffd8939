import { Data } from "effect"

/** The model could not give an explanation: unreachable, timed out, answered an error or nonsense. */
export class ModelUnavailable extends Data.TaggedError("ModelUnavailable")<{
  readonly message: string
  readonly reason: "timeout" | "unreachable" | "error" | "malformed"
  readonly cause?: unknown
}> {}
