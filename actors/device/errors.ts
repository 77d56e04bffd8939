import { Data } from "effect"

/** A snapshot handed to `restore` is not a device actor snapshot of a known format. */
export class DeviceSnapshotInvalid extends Data.TaggedError("DeviceSnapshotInvalid")<{ readonly id: string; readonly reason: string }> {}
