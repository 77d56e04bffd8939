import { Data } from "effect"

/** The CRL file exists but `openssl crl` could not read it; the previous revocation list stays in force. */
export class CrlUnreadable extends Data.TaggedError("CrlUnreadable")<{
  readonly path: string
  readonly message: string
}> {}

/** The NATS connection is down; a publish was not attempted (so nothing piles up in the client). */
export class NatsDisconnected extends Data.TaggedError("NatsDisconnected")<{
  readonly message: string
}> {}
