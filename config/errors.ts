import { Data } from "effect"

/** The configuration could not be read or does not match the schema; `message` lists every bad key. */
export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{
  readonly message: string
  readonly cause?: unknown
}> {}
