/**
 * Guard of akis's control and query handlers (akis.ctl.*, akis.rpc.*) against messages that a
 * JetStream consumer delivers onto them. nats-server 2.9 lets any client allowed to create a
 * consumer set its `deliver_subject` anywhere (nats-io/nats-server#8274): a read-only role could
 * have a KV entry delivered onto `akis.ctl.drain.<node>` (research/nats-security.md §7.1). Such a
 * message keeps its stream subject (e.g. `$KV.akis_config.partitions`) and carries a `$JS.ACK.…`
 * reply; a real request has the subject it was sent to and a reply inbox.
 */

/** The parts of a received message the guard looks at. */
export interface Received {
  readonly subject: string
  readonly reply?: string | undefined
}

const inbox = /^_INBOX[A-Za-z0-9_-]*\./

/**
 * True when `m` was published to `subject` (a literal, or a pattern for wildcard subscriptions)
 * by a client: with a reply inbox when `wantsReply` (requests), without a JetStream ack reply otherwise.
 */
export const fromRequester = (m: Received, subject: string | RegExp, wantsReply = true): boolean => {
  const sameSubject = typeof subject === "string" ? m.subject === subject : subject.test(m.subject)
  if (!sameSubject) return false
  if (wantsReply) return m.reply !== undefined && inbox.test(m.reply)
  return !m.reply?.startsWith("$JS.")
}
