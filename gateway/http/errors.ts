import { Data } from "effect"

/**
 * Every failure the API answers with, mapped to a status in one place (app.ts `onError`). The body
 * is always `{ error, message, parameter?, expected? }`; never a stack trace.
 */
export class ApiProblem extends Data.TaggedError("ApiProblem")<{
  readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 429 | 503
  /** Stable machine-readable code, e.g. `bad_parameter`, `unknown_device`, `unavailable`. */
  readonly code: string
  readonly message: string
  /** The query/path/body parameter that was refused (400). */
  readonly parameter?: string
  /** What the parameter must be (400). */
  readonly expected?: string
  /** Seconds for `Retry-After` (429, 503). */
  readonly retryAfterS?: number
  /** Problems found in a submitted document, e.g. rules issues as `file:line:col: message`. */
  readonly issues?: ReadonlyArray<string>
}> {}

/** A 400 naming the parameter and what was expected. */
export const badParameter = (parameter: string, expected: string, message = `parameter '${parameter}': ${expected}`) =>
  new ApiProblem({ status: 400, code: "bad_parameter", message, parameter, expected })

/** A 503: a dependency (ClickHouse, NATS, the owning actor's node) is unreachable right now. */
export const unavailable = (what: string, message: string, retryAfterS = 2) =>
  new ApiProblem({ status: 503, code: "unavailable", message: `${what} unavailable: ${message}`, retryAfterS })
