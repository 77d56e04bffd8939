import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type JetStreamPublishOptions } from "@nats-io/jetstream"
import { headers as natsHeaders } from "@nats-io/transport-node"
import type { AckableMsg, JetStream, MessageFeed } from "./ports.ts"

/**
 * The {@link JetStream} port on a NATS connection. Delivered messages are the library's JsMsg
 * objects, handed on as they are (the consume loop allocates nothing for the port).
 */
export const natsJetStream = (js: JetStreamClient, jsm: JetStreamManager): JetStream => ({
  async publish(subject, data, opts) {
    let o: Partial<JetStreamPublishOptions> | undefined
    if (opts) {
      o = {}
      if (opts.msgId !== undefined) o.msgID = opts.msgId
      if (opts.headers) {
        const h = natsHeaders()
        for (const [k, v] of Object.entries(opts.headers)) h.set(k, v)
        o.headers = h
      }
    }
    const ack = await js.publish(subject, data, o)
    return { seq: ack.seq, duplicate: ack.duplicate }
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
