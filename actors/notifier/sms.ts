import type { SmsChannel } from "../../config/notify-schema.ts"
import { postOnce, type Channel, type ChannelDeps } from "./channel.ts"
import { smsTextOf, type Notification } from "./message.ts"

/**
 * An SMS channel through an HTTP provider shaped like Twilio's Messages API: one form POST per
 * recipient to `<url>/Accounts/<accountSid>/Messages.json` with HTTP basic auth and fields
 * `To`, `From`, `Body`. The idempotency key goes in `I-Twilio-Idempotency-Token` (Twilio's own
 * header) and `Idempotency-Key`, suffixed with the recipient so each message has its own.
 */
export const makeSmsChannel = (name: string, cfg: typeof SmsChannel.Type, deps: ChannelDeps): Channel => {
  const url = `${cfg.url.replace(/\/+$/, "")}/Accounts/${encodeURIComponent(cfg.accountSid)}/Messages.json`
  const auth = `Basic ${Buffer.from(`${cfg.accountSid}:${cfg.authToken}`).toString("base64")}`
  return {
    name,
    type: "sms",
    async send(n: Notification) {
      const text = smsTextOf(n)
      for (const to of cfg.to) {
        const key = `${n.key}#${to}`
        const body = new URLSearchParams({ To: to, From: cfg.from, Body: text }).toString()
        await postOnce(name, url, body, {
          "content-type": "application/x-www-form-urlencoded", authorization: auth, "I-Twilio-Idempotency-Token": key, "Idempotency-Key": key,
        }, deps.timeoutMs)
      }
    },
    close: async () => {},
  }
}
