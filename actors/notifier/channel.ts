import type { ChannelConfig } from "../../config/notify-schema.ts"
import { DeliveryFailed } from "./errors.ts"
import type { Notification } from "./message.ts"

/** A delivery channel: sends one notification or fails with {@link DeliveryFailed}. */
export interface Channel {
  readonly name: string
  readonly type: ChannelConfig["type"]
  send(n: Notification): Promise<void>
  close(): Promise<void>
}

/** What every channel adapter gets besides its own config. */
export interface ChannelDeps {
  readonly timeoutMs: number
  /** Wall clock (webhook signature timestamps). */
  readonly now: () => number
}

/**
 * HTTP statuses worth retrying: timeouts, rate limits and server errors. Any other non-2xx
 * status means the receiver refused this request and will refuse it again.
 */
export const retryableStatus = (status: number): boolean => status === 408 || status === 425 || status === 429 || status >= 500

/** POSTs `body` with `headers`, mapping every outcome other than 2xx to {@link DeliveryFailed}. */
export const postOnce = async (channel: string, url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<void> => {
  let res: Response
  try {
    res = await fetch(url, { method: "POST", body, headers, signal: AbortSignal.timeout(timeoutMs) })
  } catch (cause) {
    throw new DeliveryFailed({ channel, message: `POST ${url}: ${(cause as Error).message}`, permanent: false, cause })
  }
  // Read the body so the connection is reused (and a slow body counts against the timeout).
  const text = await res.text().catch(() => "")
  if (res.ok) return
  throw new DeliveryFailed({ channel, message: `POST ${url}: HTTP ${res.status} ${text.slice(0, 200)}`, permanent: !retryableStatus(res.status) })
}
