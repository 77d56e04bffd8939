import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream"
import { Kvm, type KV } from "@nats-io/kv"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { NatsUnavailable } from "../errors.ts"
import type { NatsAuth } from "./auth.ts"

/** Everything a node needs from NATS, opened once. */
export interface Nats {
  readonly nc: NatsConnection
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
  readonly kvm: Kvm
}

/** Connection options: servers, credentials and a name shown in `nats server report connections`. */
export interface NatsOptions {
  readonly servers: ReadonlyArray<string>
  readonly user?: string
  readonly pass?: string
  readonly name?: string
  /** Credentials, TLS and reply prefix of this process's role (auth.ts `natsAuth`); overrides user/pass. */
  readonly auth?: NatsAuth
  /** How long to keep trying the first connection. */
  readonly connectTimeoutMs?: number
}

/**
 * Connects with reconnect forever (back-off with jitter) so a node survives a nats-server
 * restart; the first connection is retried until `connectTimeoutMs`.
 */
export const connectNats = async (opts: NatsOptions): Promise<Nats> => {
  const deadline = Date.now() + (opts.connectTimeoutMs ?? 15_000)
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const nc = await connect({
        servers: [...opts.servers],
        name: opts.name,
        user: opts.user || undefined,
        pass: opts.pass || undefined,
        ...opts.auth,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 100,
        pingInterval: 2_000,
        timeout: 2_000,
        // nats.js otherwise builds Error objects (stack traces) for every request, JetStream
        // publishes and KV gets included: 7 % of a node's CPU at the reference load.
        noAsyncTraces: true,
      })
      const jsm = await jetstreamManager(nc, { timeout: 5_000 })
      return { nc, js: jetstream(nc, { timeout: 5_000 }), jsm, kvm: new Kvm(nc) }
    } catch (cause) {
      lastError = cause
      // Wrong or missing credentials do not get better by retrying.
      if (/Authorization Violation|Authentication/i.test(String((cause as Error)?.message))) break
      await Bun.sleep(250)
    }
  }
  throw new NatsUnavailable({ servers: opts.servers, cause: lastError })
}

/** True when a JetStream/KV call failed because an expected last sequence (CAS) did not match. */
export const isWrongLastSequence = (e: unknown): boolean =>
  e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamWrongLastSequence

export type { KV, NatsConnection }
