import { AckPolicy, DeliverPolicy, StorageType, type ConsumerConfig, type JetStreamManager } from "@nats-io/jetstream"
import type { Kvm } from "@nats-io/kv"
import { TopologyUnavailable } from "../errors.ts"
import { natsKv } from "./kv.ts"
import type { DurableSpec, Setup } from "./ports.ts"
import { definitions, ensureTopology, openBucket } from "./topology.ts"

/** A {@link DurableSpec} as NATS consumer settings: explicit acks, from a start time or the first message. */
export const durableConfig = (d: DurableSpec): Partial<ConsumerConfig> => ({
  durable_name: d.name, ack_policy: AckPolicy.Explicit, ack_wait: d.ackWaitMs * 1e6, max_ack_pending: d.maxAckPending,
  ...(d.startAt !== undefined
    ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(d.startAt).toISOString() }
    : { deliver_policy: DeliverPolicy.All }),
})

/** The {@link Setup} port on a NATS connection: the topology module (topology-apply.ts) and the consumer API. */
export const natsSetup = (jsm: JetStreamManager, kvm: Kvm): Setup => ({
  ensure: (only, o, log) => ensureTopology(jsm, o, { only, log }),

  async ensureDurable(stream, d) {
    const cfg = durableConfig(d)
    try {
      const info = await jsm.consumers.info(stream, d.name)
      if (info.config.ack_wait !== cfg.ack_wait || info.config.max_ack_pending !== cfg.max_ack_pending) {
        await jsm.consumers.update(stream, d.name, { ack_wait: cfg.ack_wait, max_ack_pending: cfg.max_ack_pending }).catch(() => {})
      }
    } catch {
      await jsm.consumers.add(stream, cfg).catch(async (e) => {
        await jsm.consumers.info(stream, d.name).catch(() => Promise.reject(e)) // created by another node meanwhile
      })
    }
  },

  async bucket(name, o, own) {
    if (definitions.some((d) => d.kind === "kv" && d.name === name)) return natsKv(await openBucket(kvm, name, o))
    if (!own) throw new TopologyUnavailable({ message: `${name} is not a KV bucket of the topology table` })
    return natsKv(await kvm.create(name, { history: 1, replicas: o.replicas, storage: StorageType.File, ttl: own.ttlMs }))
  },
})
