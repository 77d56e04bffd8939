import { Data } from "effect"

/** The CRL file exists but `openssl crl` could not read it; the previous revocation list stays in force. */
export class CrlUnreadable extends Data.TaggedError("CrlUnreadable")<{
  readonly path: string
  readonly message: string
}> {}
