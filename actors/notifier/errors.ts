import { Data } from "effect"

/**
 * One delivery attempt failed. `permanent` is true when retrying cannot help (the receiver
 * refused the request, e.g. HTTP 400/401/403/404 or an SMTP 5xx); the delivery then goes to the
 * dead letters at once instead of after `maxAttempts`.
 */
export class DeliveryFailed extends Data.TaggedError("DeliveryFailed")<{
  readonly channel: string
  readonly message: string
  readonly permanent: boolean
  readonly cause?: unknown
}> {}

