import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import type { NatsConnection } from "@nats-io/transport-node"
import { natsBus } from "./bus.ts"
import { natsJetStream } from "./jetstream.ts"
import type { NatsPorts } from "./ports.ts"
import { natsSetup } from "./setup.ts"

/**
 * The {@link NatsPorts} of a connection (what actors/ and gateway/ take). `connected()` follows the
 * connection's status: false from a disconnect until the reconnect, and once it is closed.
 */
export const natsPorts = async (nc: NatsConnection): Promise<NatsPorts> => {
  const jsm = await jetstreamManager(nc)
  let up = true
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") up = false
      else if (s.type === "reconnect") up = true
    }
  })().catch(() => {})
  return {
    js: natsJetStream(jetstream(nc), jsm),
    bus: natsBus(nc),
    setup: natsSetup(jsm, new Kvm(nc)),
    connected: () => up && !nc.isClosed(),
  }
}
