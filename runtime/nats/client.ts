/**
 * What a process outside the cluster core (the CLI, the API node, the gateway process, the
 * notifier role) needs of its NATS connection, as ports and plain values. The connection itself
 * is handed around as an opaque {@link Connection}; only runtime/nats calls it.
 */
import { jetstreamManager } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import type { NatsConnection } from "@nats-io/transport-node"
import type { Requester } from "../router.ts"
import { natsKv } from "./kv.ts"
import { orNotFound } from "./inspect.ts"
import type { Bus, HistoryKv, Kv } from "./ports.ts"
import { applyTopology, openBucket, type TopologyLog } from "./topology-apply.ts"
import type { TopologyOptions } from "./topology.ts"

/** A NATS connection as code outside runtime/nats holds it: passed on to runtime/nats, never called. */
export type Connection = NatsConnection

/** An existing bucket as a {@link Kv} port; StreamNotFound when it does not exist (never creates it). */
export const openKv = async (nc: Connection, name: string): Promise<Kv> => {
  await orNotFound(`KV_${name}`, async () => (await jetstreamManager(nc, { timeout: 5_000, checkAPI: false })).streams.info(`KV_${name}`))
  return natsKv(await new Kvm(nc).open(name))
}

/** A bucket of the topology table as a {@link Kv} port: checked, created when missing and allowed (topology-apply.ts `openBucket`). */
export const openTopologyKv = async (nc: Connection, name: string, o: TopologyOptions, log?: TopologyLog): Promise<HistoryKv> =>
  natsKv(await openBucket(new Kvm(nc), name, o, log))

/** `ops topology apply` on this connection (admin credentials). */
export const applyTopologyOn = async (nc: Connection, o: TopologyOptions) => applyTopology(await jetstreamManager(nc), o)

/** askActor's request/reply over the {@link Bus} port (a request nobody answers is a NoAnswer). */
export const requesterOf = (bus: Bus): Requester => ({
  request: async (subject, payload, opts) => ({ data: await bus.request(subject, payload, opts.timeout) }),
})

/** The largest message the server takes (its `max_payload`; 1 MiB when not known yet). */
export const maxPayloadOf = (nc: Connection): number => nc.info?.max_payload ?? 1_048_576

/** True once the connection is closed for good (not while it reconnects). */
export const isClosed = (nc: Connection): boolean => nc.isClosed()

/**
 * Follows a connection's status: the returned function is false from a disconnect until the
 * reconnect, and once the connection is closed. Callers answer "unavailable" at once instead of
 * waiting out a request timeout while the server is gone.
 */
export const linkUp = (nc: Connection): (() => boolean) => {
  let up = true
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") up = false
      else if (s.type === "reconnect") up = true
    }
  })().catch(() => {})
  return () => up && !nc.isClosed()
}

/** Drains the connection (subscriptions finish, then it closes); never fails. */
export const drain = async (nc: Connection): Promise<void> => {
  await nc.drain().catch(() => {})
}

/** Closes the connection; never fails. */
export const close = async (nc: Connection): Promise<void> => {
  await nc.close().catch(() => {})
}
