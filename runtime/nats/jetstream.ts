import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream"
import { headers as natsHeaders } from "@nats-io/transport-node"
import type { AckableMsg, JetStream, MessageFeed } from "./ports.ts"

/**
 * The {@link JetStream} port on a NATS connection. Delivered messages are the library's JsMsg
 * objects, handed on as they are (the consume loop allocates nothing for the port).
 */
export const natsJetStream = (js: JetStreamClient, jsm: JetStreamManager): JetStream => ({
  // The ingest hot path: no await and no result object of our own; the library's PubAck
  // (seq, duplicate, stream) is the port's as is.
  publish(subject, data, opts) {
    if (opts === undefined) return js.publish(subject, data)
    if (opts.headers === undefined) return js.publish(subject, data, { msgID: opts.msgId, timeout: opts.timeoutMs })
    const h = natsHeaders()
    for (const [k, v] of Object.entries(opts.headers)) h.set(k, v)
    return js.publish(subject, data, { msgID: opts.msgId, timeout: opts.timeoutMs, headers: h })
  },

  async streamState(stream) {
    const s = (await jsm.streams.info(stream)).state
    return { firstSeq: s.first_seq, lastSeq: s.last_seq, messages: s.messages }
  },

  async orderedConsumer(stream, opts) {
    const c = await js.consumers.get(stream, {
      filter_subjects: opts.filterSubject,
      ...(opts.startSeq !== undefined && opts.startSeq > 1
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.startSeq }
        : { deliver_policy: DeliverPolicy.All }),
    })
    return {
      pending: async (atCreation) => (await c.info(atCreation === true)).num_pending,
      consume: async (o) => (await c.consume({ max_messages: o.maxMessages, expires: o.expiresMs })) as MessageFeed,
    }
  },

  async durableConsumer(stream, name) {
    const c = await js.consumers.get(stream, name)
    return {
      fetch: async (o) => (await c.fetch({ max_messages: o.maxMessages, expires: o.expiresMs })) as AsyncIterable<AckableMsg>,
    }
  },
})
