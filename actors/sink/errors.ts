import { Data } from "effect"

/** ClickHouse could not be reached or did not answer in time (transport trouble, timeouts): worth retrying. */
export class StoreUnavailable extends Data.TaggedError("StoreUnavailable")<{
  readonly op: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** ClickHouse answered and refused the statement (SQL error, data it cannot store): the same again fails again. */
export class StoreRefused extends Data.TaggedError("StoreRefused")<{
  readonly op: string
  readonly message: string
  /** ClickHouse's error code, when it sent one. */
  readonly code?: string | undefined
  readonly cause?: unknown
}> {}

/** A failed store call, as the store adapters (clickhouse-store.ts, chdb-store.ts) translate it once. */
export type StoreError = StoreUnavailable | StoreRefused

/** The store error's tag, or undefined for anything else. */
export const storeErrorTag = (e: unknown): StoreError["_tag"] | undefined => {
  const tag = (e as { _tag?: unknown } | null)?._tag
  return tag === "StoreUnavailable" || tag === "StoreRefused" ? tag : undefined
}

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
