/**
 * What answers at a NATS address (ops/up and `ops local-cluster` decide from it whether to start
 * a nats-server): nothing, a NATS with JetStream, or one without it. The client's errors are
 * told apart here, by class, and the answer is plain data.
 */
import { AuthorizationError, connect, type NatsConnection } from "@nats-io/transport-node"
import type { NatsAuth } from "./auth.ts"

/** What {@link probeNats} found; `detail` says why JetStream is missing (or that the credentials were refused). */
export interface NatsProbe {
  readonly state: "absent" | "jetstream" | "no-jetstream"
  readonly detail?: string
}

/**
 * Connects once without retrying and asks `$JS.API.INFO`. A server with authentication that
 * refuses these credentials is there all the same (the nodes then fail with the credentials'
 * problem, not with "no NATS").
 */
export const probeNats = async (servers: ReadonlyArray<string>, auth: NatsAuth = {}): Promise<NatsProbe> => {
  let nc: NatsConnection
  try {
    nc = await connect({ servers: [...servers], timeout: 1_000, reconnect: false, ...auth })
  } catch (e) {
    return e instanceof AuthorizationError ? { state: "jetstream", detail: "refused these credentials" } : { state: "absent" }
  }
  try {
    const r = await nc.request("$JS.API.INFO", undefined, { timeout: 2_000 })
    const body = JSON.parse(new TextDecoder().decode(r.data)) as { error?: { description?: string } }
    return body.error ? { state: "no-jetstream", detail: body.error.description ?? "JetStream refused" } : { state: "jetstream" }
  } catch (e) {
    return { state: "no-jetstream", detail: (e as Error).message }
  } finally {
    await nc.close().catch(() => {})
  }
}
