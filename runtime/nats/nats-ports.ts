import { jetstream, jetstreamManager } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import type { NatsConnection } from "@nats-io/transport-node"
import { natsBus } from "./bus.ts"
import { linkUp } from "./client.ts"
import { natsJetStream } from "./jetstream.ts"
import type { NatsPorts } from "./ports.ts"
import { natsSetup } from "./setup.ts"

/**
 * The {@link NatsPorts} of a connection (what actors/ and gateway/ take). `connected()` follows the
 * connection's status: false from a disconnect until the reconnect, and once it is closed.
 */
export const natsPorts = async (nc: NatsConnection): Promise<NatsPorts> => {
  const jsm = await jetstreamManager(nc)
  const connected = linkUp(nc)
  return {
    js: natsJetStream(jetstream(nc), jsm),
    bus: natsBus(nc),
    setup: natsSetup(jsm, new Kvm(nc)),
    connected,
  }
}
