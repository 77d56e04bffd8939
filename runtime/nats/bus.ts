import type { NatsConnection } from "@nats-io/transport-node"
import { NoAnswer } from "../errors.ts"
import type { Bus } from "./ports.ts"

/**
 * The {@link Bus} port on a NATS connection; a request with no answer fails with {@link NoAnswer}.
 * A subscription error (e.g. a permissions violation) delivers nothing to the handler.
 */
export const natsBus = (nc: NatsConnection): Bus => ({
  subscribe(subject, handler, opts) {
    const sub = nc.subscribe(subject, { callback: (e, m) => void (e ? undefined : handler(m)), ...(opts?.queue !== undefined ? { queue: opts.queue } : {}) })
    return { unsubscribe: () => sub.unsubscribe() }
  },
  publish(subject, data) {
    nc.publish(subject, data)
  },
  async request(subject, data, timeoutMs) {
    try {
      return (await nc.request(subject, data, { timeout: timeoutMs })).data
    } catch (cause) {
      throw new NoAnswer({ subject, cause })
    }
  },
})
