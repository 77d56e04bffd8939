import { createHmac } from "node:crypto"
import type { WebhookChannel } from "../../config/notify-schema.ts"
import { postOnce, type Channel, type ChannelDeps } from "./channel.ts"
import { jsonOf, type Notification } from "./message.ts"

/** Header names of a webhook delivery (docs/notifications.md shows how a receiver checks them). */
export const webhookHeaders = {
  idempotencyKey: "Idempotency-Key",
  signature: "X-Akis-Signature",
  timestamp: "X-Akis-Timestamp",
} as const

/**
 * `sha256=<hex>`: HMAC-SHA256 with the channel's secret over `<timestamp>.<body>`, so a receiver
 * can check the body is ours and refuse old timestamps (replays).
 */
export const signWebhook = (secret: string, timestamp: string, body: string): string =>
  `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`

/** A webhook channel: POST of the notification as JSON, signed, with its idempotency key. */
export const makeWebhookChannel = (name: string, cfg: typeof WebhookChannel.Type, deps: ChannelDeps): Channel => ({
  name,
  type: "webhook",
  async send(n: Notification) {
    const body = JSON.stringify(jsonOf(n))
    const timestamp = String(Math.floor(deps.now() / 1000))
    const headers: Record<string, string> = {
      "content-type": "application/json", [webhookHeaders.idempotencyKey]: n.key, [webhookHeaders.timestamp]: timestamp,
    }
    if (cfg.secret) headers[webhookHeaders.signature] = signWebhook(cfg.secret, timestamp, body)
    await postOnce(name, cfg.url, body, headers, deps.timeoutMs)
  },
  close: async () => {},
})
