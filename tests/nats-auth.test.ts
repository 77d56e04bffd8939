/**
 * NATS security with a real nats-server running the generated authorization (nkey users, one
 * permission set per role): who may connect, what each role may and may not do, the deliver-subject
 * guard of the control handlers, reply isolation, and key rotation.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream"
import { Kvm } from "@nats-io/kv"
import { connect, nkeyAuthenticator, nkeys, type NatsConnection } from "@nats-io/transport-node"
import { readFileSync } from "node:fs"
import { askActor, BatchBuilder, encodeBatch, shardOf, telemetrySubject } from "../runtime/index.ts"
import { authConfPath, finishRotation, initCredentials, natsAuth, rotateCredentials } from "../runtime/nats/auth.ts"
import { startNats, tempDir, waitFor, type Child, type NatsServer } from "./harness/index.ts"
import { events, ReadingPublisher, spawnCountingNode, testNodeEnv } from "./support/cluster.ts"
import { testTopology } from "./support/topology.ts"
import { ensureTopology, type Role } from "../runtime/nats/topology.ts"

const P = 4
const denied = (s: string) => `Permissions Violation for Publish to "${s}"`
let ns: NatsServer
let admin: NatsConnection
let node: Child
const conns: NatsConnection[] = []
const as = async (role: Role) => {
  const nc = await connect({ servers: ns.url, reconnect: false, ...ns.auth(role) })
  conns.push(nc)
  return nc
}
/** Status errors of a connection (a denied core publish does not throw: it arrives here). */
const statusErrors = (nc: NatsConnection) => {
  const errors: string[] = []
  void (async () => {
    for await (const s of nc.status()) if (s.type === "error") errors.push(String((s as { error: Error }).error?.message))
  })()
  return errors
}

beforeAll(async () => {
  ns = await startNats()
  admin = await ns.connect()
  // A real node under the node role's credentials creates the topology and takes the shards.
  node = spawnCountingNode("w1", testNodeEnv(ns.url, P))
  await waitFor("w1 holds all shards", () => events(node).filter((e) => e.event === "shard.start").length === P, { timeoutMs: 30_000 })
}, 60_000)
afterAll(async () => {
  await node?.kill()
  for (const c of conns) await c.close().catch(() => {})
  await ns?.cleanup()
})

describe("NATS authentication and per-role permissions", () => {
  test("clients without credentials, or with an unknown key, cannot connect", async () => {
    await expect(connect({ servers: ns.url, reconnect: false })).rejects.toThrow("Authorization Violation")
    const stranger = nkeys.createUser().getSeed()
    await expect(connect({ servers: ns.url, reconnect: false, authenticator: nkeyAuthenticator(stranger) })).rejects.toThrow("Authorization Violation")
    // The generated config has no accounts block (CVE-2023-47090: accounts + authorization admitted anonymous clients).
    expect(readFileSync(authConfPath(ns.credsDir!), "utf8")).not.toMatch(/\baccounts\b|system_account|no_auth_user/)
  })

  test("the node works under its own credentials without a single permission violation", async () => {
    const pub = new ReadingPublisher(await as("gateway"), P)
    const ids = ["d-1", "d-2", "d-3", "d-4", "d-5"]
    for (let r = 0; r < 3; r++) await pub.round(ids)
    await waitFor("counted", async () => (await askActor<{ count: number }>(admin, P, "counter", "d-3")).count === 3, { timeoutMs: 20_000 })
    const stats = JSON.parse(new TextDecoder().decode((await admin.request("akis.ctl.stats.w1", undefined, { timeout: 5_000 })).data))
    expect(stats.shards.length).toBe(P)
    expect(ns.log().split("\n").filter((l) => /(Publish|Subscription) Violation/.test(l))).toEqual([])
  }, 60_000)

  test("a gateway's credentials publish readings but cannot drain a node, write akis_rules, publish alerts or read the stream", async () => {
    const gw = await as("gateway")
    const errors = statusErrors(gw)
    const js = jetstream(gw)
    const b = new BatchBuilder(2, 1)
    b.push("d-9", 1, Date.now(), [1, 1])
    const batch = encodeBatch(b.take(Date.now()))
    expect((await js.publish(telemetrySubject(shardOf("d-9", P)), batch, { msgID: "gw-auth-1" })).duplicate).toBe(false)
    expect((await js.publish(telemetrySubject(shardOf("d-9", P)), batch, { msgID: "gw-auth-1" })).duplicate).toBe(true)
    await expect(gw.request("akis.ctl.drain.w1", undefined, { timeout: 2_000 })).rejects.toThrow(denied("akis.ctl.drain.w1"))
    gw.publish("akis.ctl.drain.w1") // a core publish does not throw: the denial comes as a status error
    await gw.flush()
    await waitFor("denial reported", () => errors.includes(denied("akis.ctl.drain.w1")))
    await expect(js.publish("akis.alerts.critical.bus-1", new TextEncoder().encode("{}"))).rejects.toThrow(denied("akis.alerts.critical.bus-1"))
    const rules = await new Kvm(gw).open("akis_rules")
    await expect(rules.put("active", "{}")).rejects.toThrow(denied("$KV.akis_rules.active"))
    await expect((await jetstreamManager(gw, { checkAPI: false })).streams.purge("AKIS_TLM")).rejects.toThrow(denied("$JS.API.STREAM.PURGE.AKIS_TLM"))
    // it may not read the stream it writes (AKIS_TLM holds messages: a permitted consumer would get one)
    expect(await js.consumers.get("AKIS_TLM").then((c) => c.next({ expires: 1_000 })).catch(() => null)).toBeNull()
    // the node is still there, holding every shard
    expect(events(node).some((e) => e.event === "node.drain")).toBe(false)
    const stats = JSON.parse(new TextDecoder().decode((await admin.request("akis.ctl.stats.w1", undefined, { timeout: 5_000 })).data))
    expect(stats.shards.length).toBe(P)
  }, 30_000)

  test("the inspector reads streams, buckets and node stats but writes nothing and creates no consumer", async () => {
    const nc = await as("inspector")
    const jsm = await jetstreamManager(nc)
    expect((await jsm.streams.info("AKIS_TLM")).config.num_replicas).toBe(1)
    expect((await jsm.streams.names().next()).length).toBeGreaterThan(0)
    const config = await new Kvm(nc).open("akis_config")
    expect((await config.get("partitions"))?.string()).toBe(String(P))
    const stats = JSON.parse(new TextDecoder().decode((await nc.request("akis.ctl.stats.w1", undefined, { timeout: 5_000 })).data))
    expect(stats.node).toBe("w1")
    await expect(config.put("partitions", "9")).rejects.toThrow(denied("$KV.akis_config.partitions"))
    await expect(jsm.streams.purge("AKIS_TLM")).rejects.toThrow(denied("$JS.API.STREAM.PURGE.AKIS_TLM"))
    await expect(jsm.streams.delete("AKIS_ALERTS")).rejects.toThrow(denied("$JS.API.STREAM.DELETE.AKIS_ALERTS"))
    await expect(jetstream(nc).publish("akis.tlm.1", new Uint8Array([1]))).rejects.toThrow(denied("akis.tlm.1")) // refused: never stored
    await expect(nc.request("akis.ctl.drain.w1", undefined, { timeout: 2_000 })).rejects.toThrow(denied("akis.ctl.drain.w1"))
    // No consumer creation at all: the deliver-subject trick of research §7.1 is closed for this role.
    await expect(jsm.consumers.add("KV_akis_config", { name: "snoop", deliver_subject: "akis.ctl.drain.w1", ack_policy: AckPolicy.None }))
      .rejects.toThrow(/Permissions Violation for Publish to "\$JS\.API\.CONSUMER\.CREATE\.KV_akis_config/)
    expect(events(node).some((e) => e.event === "node.drain")).toBe(false)
  }, 30_000)

  test("a consumer delivering stream messages onto akis.ctl.drain does not drain the node (guard)", async () => {
    // The api role may create its own consumers on AKIS_ALERTS; nats-server 2.9 does not check where they deliver.
    await jetstream(admin).publish("akis.alerts.warning.bus-9", new TextEncoder().encode("{}"))
    const jsm = await jetstreamManager(await as("api"))
    await jsm.consumers.add("AKIS_ALERTS", { name: "inject", deliver_subject: "akis.ctl.drain.w1", deliver_policy: DeliverPolicy.All, ack_policy: AckPolicy.None })
    await waitFor("delivery refused by the node", () => events(node).some((e) => e.event === "ctl.refused"), { timeoutMs: 10_000 }).catch((e) => { console.error(node.output().slice(-3000)); console.error(ns.log().slice(-3000)); throw e })
    const refused = events(node).find((e) => e.event === "ctl.refused")!
    expect(refused.subject).toBe("akis.alerts.warning.bus-9")
    await Bun.sleep(500)
    expect(events(node).some((e) => e.event === "node.drain")).toBe(false)
    const stats = JSON.parse(new TextDecoder().decode((await admin.request("akis.ctl.stats.w1", undefined, { timeout: 5_000 })).data))
    expect(stats.shards.length).toBe(P)
    await jsm.consumers.delete("AKIS_ALERTS", "inject")
  }, 30_000)

  test("a role cannot read other roles' replies (_INBOX) nor take the alert writer's durable", async () => {
    const nc = await as("inspector")
    const errors = statusErrors(nc)
    nc.subscribe("_INBOX.>")
    nc.subscribe("_INBOX_node.>")
    await nc.flush()
    await waitFor("subscriptions refused", () =>
      errors.includes(`Permissions Violation for Subscription to "_INBOX.>"`) && errors.includes(`Permissions Violation for Subscription to "_INBOX_node.>"`))
    await ensureTopology(await jetstreamManager(admin), testTopology, { only: ["sinkAlerts"] }) // the alert writer's durable
    const api = await as("api")
    const jsm = await jetstreamManager(api)
    await expect(jsm.consumers.update("AKIS_ALERTS", "akis_sink_alerts", { ack_wait: 1e9 })).rejects.toThrow(denied("$JS.API.CONSUMER.CREATE.AKIS_ALERTS.akis_sink_alerts"))
    await expect(jsm.consumers.delete("AKIS_ALERTS", "akis_sink_alerts")).rejects.toThrow(denied("$JS.API.CONSUMER.DELETE.AKIS_ALERTS.akis_sink_alerts"))
    // the api may write the rules and its own buckets
    await (await new Kvm(api).open("akis_tokens")).put("probe", "1")
  }, 30_000)
})

describe("credential rotation", () => {
  test("a rotated key works at once; the old one works until the rotation is finished and the server reloaded", async () => {
    const dir = tempDir("akis-rotate-")
    initCredentials(dir, testTopology)
    const s = await startNats({ auth: dir })
    try {
      const seed = (f: string) => nkeyAuthenticator(new TextEncoder().encode(readFileSync(f, "utf8").trim()))
      const old = readFileSync(`${dir}/gateway.nk`, "utf8")
      rotateCredentials(dir, "gateway", testTopology)
      await s.reload()
      const viaNew = await connect({ servers: s.url, reconnect: false, authenticator: seed(`${dir}/gateway.nk`) })
      const viaOld = await connect({ servers: s.url, reconnect: false, authenticator: nkeyAuthenticator(new TextEncoder().encode(old.trim())) })
      await Promise.all([viaNew.close(), viaOld.close()])
      expect(finishRotation(dir, "gateway", testTopology)).toBe(true)
      await s.reload()
      await expect(connect({ servers: s.url, reconnect: false, authenticator: nkeyAuthenticator(new TextEncoder().encode(old.trim())) })).rejects.toThrow("Authorization Violation")
      await (await connect({ servers: s.url, reconnect: false, authenticator: seed(`${dir}/gateway.nk`) })).close()
    } finally {
      await s.cleanup()
    }
  }, 30_000)
})

describe("TLS to NATS", () => {
  test("with nats.tls.caFile a role connects over TLS; without the CA the server's certificate is refused", async () => {
    const { createCa, createServerCert, pkiPaths } = await import("../ops/certs/pki.ts")
    const pki = tempDir("akis-nats-tls-")
    await createCa(pki, { cn: "akis nats CA" })
    await createServerCert(pki, ["127.0.0.1", "localhost"])
    const p = pkiPaths(pki)
    const s = await startNats({ tls: { certFile: p.serverCert, keyFile: p.serverKey, caFile: p.caCert } })
    try {
      const cfg = { user: "", pass: "", credsDir: s.credsDir!, credsFile: "", inboxPrefix: "auto", tls: { caFile: p.caCert, certFile: "", keyFile: "" } }
      const nc = await connect({ servers: s.url, reconnect: false, ...natsAuth(cfg, "gateway") })
      expect(nc.info?.tls_required).toBe(true)
      await nc.close()
      await expect(connect({ servers: s.url, reconnect: false, ...natsAuth({ ...cfg, tls: { caFile: "", certFile: "", keyFile: "" } }, "gateway") })).rejects.toThrow()
    } finally {
      await s.cleanup()
    }
  }, 30_000)
})
