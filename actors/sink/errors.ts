import { Data } from "effect"

/** A ClickHouse store call failed; `retryable` is true when the server was unreachable or timed out. */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly op: string
  readonly message: string
  readonly retryable: boolean
  readonly cause?: unknown
}> {}

/** The sink's fencing check said this node no longer owns the shard: the batch was refused, not inserted. */
export class FencedOut extends Data.TaggedError("FencedOut")<{
  readonly message: string
  /** Rows refused with the batch. */
  readonly rows: number
}> {}

/** The sink was closed (or fenced out earlier) and takes no more rows. */
export class SinkClosed extends Data.TaggedError("SinkClosed")<{ readonly message: string }> {}

/** A history query got an input that failed validation; nothing was sent to ClickHouse. */
export class HistoryInputInvalid extends Data.TaggedError("HistoryInputInvalid")<{
  readonly field: string
  readonly message: string
}> {}

/** The existing tables cannot be migrated to the device schema (e.g. a column changed type). */
export class MigrationFailed extends Data.TaggedError("MigrationFailed")<{
  readonly message: string
  readonly cause?: unknown
}> {}
