/**
 * Probe (not part of `ops bench`): what a `Nats-Msg-Id` header on every telemetry publish costs
 * nats-server and the publishing client at the reference load's message rate. One JetStream
 * stream shaped like AKIS_TLM (file storage, 16 subjects, 120 s duplicate window), one pull
 * consumer per subject reading everything, and a publisher that sends `rate` messages a second of
 * `bytes` bytes (one reading's batch) in 5 ms ticks, each waiting for its PubAck, as the gateway's
 * shards do (at least one a tick: 200 a second is the lowest rate it sends; `sent_per_s` says what
 * it sent). Phases alternate with and without a msg id; CPU is read from /proc.
 *
 *   bun ops/benchmarks/probes/jetstream-msgid.ts [rate, default 2000] [seconds per phase, default 15] [rounds, default 2] [bytes a message, default 450]
 */
import { connect } from "@nats-io/transport-node"
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream"
import { processCpuMs } from "../../lib/cpu.ts"
import { startNats } from "../../lib/servers/index.ts"

const rate = Number(process.argv[2] ?? 2000)
const phaseS = Number(process.argv[3] ?? 15)
const rounds = Number(process.argv[4] ?? 2)
const subjects = 16
const bytes = Number(process.argv[5] ?? 450)

const ns = await startNats({ auth: false })
const nc = await connect({ servers: ns.url })
const jsm = await jetstreamManager(nc)
await jsm.streams.add({
  name: "PROBE_TLM", subjects: ["probe.tlm.*"], storage: StorageType.File, retention: RetentionPolicy.Limits,
  duplicate_window: 120_000_000_000, max_bytes: 2 * 1024 ** 3,
})
const js = jetstream(nc)
// The consumers read on a connection of their own, as shard hosts do beside the gateway.
const cc = await connect({ servers: ns.url })
const cjs = jetstream(cc)
let consumed = 0
for (let s = 0; s < subjects; s++) {
  await jsm.consumers.add("PROBE_TLM", { durable_name: `c${s}`, filter_subject: `probe.tlm.${s}`, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All })
  const c = await cjs.consumers.get("PROBE_TLM", `c${s}`)
  void (async () => {
    for await (const _m of await c.consume({ max_messages: 256, expires: 2_000 })) consumed++
  })()
}

const payload = new Uint8Array(bytes).map((_, i) => i & 0xff)
let no = 0
const phase = async (withId: boolean) => {
  const perTick = rate / 200
  const end = performance.now() + phaseS * 1000
  const t0 = { server: processCpuMs(ns.pid), client: processCpuMs(process.pid), consumed, at: performance.now() }
  let sent = 0
  while (performance.now() < end) {
    const tick = performance.now()
    const acks: Promise<unknown>[] = []
    for (let i = 0; i < perTick; i++, no++, sent++) {
      const subject = `probe.tlm.${no % subjects}`
      acks.push(withId ? js.publish(subject, payload, { msgID: `gw1.${no % subjects}.${no}` }) : js.publish(subject, payload))
    }
    await Promise.all(acks)
    await Bun.sleep(Math.max(0, 5 - (performance.now() - tick)))
  }
  const wall = (performance.now() - t0.at) / 1000
  return {
    msg_id: withId, sent_per_s: Math.round(sent / wall), consumed_per_s: Math.round((consumed - t0.consumed) / wall),
    server_cores: +((processCpuMs(ns.pid) - t0.server) / 1000 / wall).toFixed(3),
    client_cores: +((processCpuMs(process.pid) - t0.client) / 1000 / wall).toFixed(3),
  }
}

const results: Array<Awaited<ReturnType<typeof phase>>> = []
for (let r = 0; r < rounds; r++) for (const withId of [true, false]) {
  const x = await phase(withId)
  results.push(x)
  console.error(JSON.stringify(x))
}
const mean = (withId: boolean, k: "server_cores" | "client_cores") => {
  const xs = results.filter((x) => x.msg_id === withId).map((x) => x[k])
  return +(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3)
}
console.log(JSON.stringify({
  rate, bytes, subjects, phase_s: phaseS, rounds,
  with_msg_id: { server_cores: mean(true, "server_cores"), client_cores: mean(true, "client_cores") },
  without: { server_cores: mean(false, "server_cores"), client_cores: mean(false, "client_cores") },
}))
await cc.close()
await nc.close()
await ns.stop()
process.exit(0)
