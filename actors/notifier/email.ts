import { createHash } from "node:crypto"
import nodemailer from "nodemailer"
import type { EmailChannel } from "../../config/notify-schema.ts"
import type { Channel, ChannelDeps } from "./channel.ts"
import { DeliveryFailed } from "./errors.ts"
import { subjectOf, textOf, type Notification } from "./message.ts"

/** The Message-ID of a notification's e-mail: derived from its idempotency key, so a resent copy has the same one. */
export const messageIdOf = (key: string): string => `<${createHash("sha256").update(key).digest("hex").slice(0, 32)}@akis>`

/**
 * An e-mail channel over SMTP (nodemailer, pooled connection). The idempotency key is the
 * `X-Akis-Idempotency-Key` header and determines the Message-ID. SMTP 5xx replies are permanent
 * failures; connection errors and 4xx are retried.
 */
export const makeEmailChannel = (name: string, cfg: typeof EmailChannel.Type, deps: ChannelDeps): Channel => {
  const transport = nodemailer.createTransport({
    host: cfg.host, port: cfg.port, secure: cfg.secure, pool: true, maxConnections: 2,
    auth: cfg.user ? { user: cfg.user, pass: cfg.pass } : undefined,
    connectionTimeout: deps.timeoutMs, greetingTimeout: deps.timeoutMs, socketTimeout: deps.timeoutMs,
  })
  return {
    name,
    type: "email",
    async send(n: Notification) {
      try {
        await transport.sendMail({
          from: cfg.from, to: [...cfg.to], subject: subjectOf(n), text: textOf(n), messageId: messageIdOf(n.key),
          headers: { "X-Akis-Idempotency-Key": n.key },
        })
      } catch (cause) {
        const code = (cause as { responseCode?: number }).responseCode
        throw new DeliveryFailed({ channel: name, message: `SMTP ${cfg.host}:${cfg.port}: ${(cause as Error).message}`, permanent: typeof code === "number" && code >= 500, cause })
      }
    },
    close: async () => transport.close(),
  }
}
