import type { NotifyConfig } from "../../config/notify-schema.ts"
import type { Channel } from "./channel.ts"
import { makeEmailChannel } from "./email.ts"
import { makeSmsChannel } from "./sms.ts"
import { makeWebhookChannel } from "./webhook.ts"

/** Builds every channel defined in config `notify.channels`, by name. */
export const makeChannels = (cfg: NotifyConfig, now: () => number): Map<string, Channel> => {
  const deps = { timeoutMs: cfg.timeoutMs, now }
  return new Map(Object.entries(cfg.channels).map(([name, c]) => [
    name,
    c.type === "webhook" ? makeWebhookChannel(name, c, deps) : c.type === "email" ? makeEmailChannel(name, c, deps) : makeSmsChannel(name, c, deps),
  ]))
}
