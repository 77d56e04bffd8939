/**
 * No loss, no duplicate: a gateway process is killed with SIGKILL mid-stream; the devices fail
 * over to a second gateway and resend what was not acked. The stream then holds every reading of
 * every device exactly once after de-duplication by seq, in seq order per device.
 */
import { afterAll, beforeAll, expect, test } from "bun:test"
import { jetstreamManager } from "@nats-io/jetstream"
import type { NatsConnection } from "@nats-io/transport-node"
import { loadConfig } from "../../config/index.ts"
import { ensureTopology, topologyOptions } from "../../runtime/nats/topology.ts"
import { join } from "node:path"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { createDeviceCerts, fleetIds } from "../../ops/certs/pki.ts"
import { runFleet } from "../../ops/loadgen/fleet.ts"
import { freePort, spawnChild, startNats, waitFor, type Child, type NatsServer } from "../harness/index.ts"
import { checkDelivery, makeTestPki, streamReadings, type TestPki } from "./fixture.ts"

let nats: NatsServer
let pki: TestPki
let nc: NatsConnection
const children: Child[] = []
const root = join(import.meta.dir, "..", "..")

const startGatewayProcess = async (name: string, port: number): Promise<Child> => {
  const c = spawnChild(name, ["bun", join(root, "ops", "gateway-main.ts")], {
    cwd: root,
    env: {
      AKIS_NATS__SERVERS: `[${nats.url}]`, AKIS_CLUSTER__PARTITIONS: "8", AKIS_GATEWAY__PORT: String(port),
      AKIS_GATEWAY__CERTDIR: pki.dir, AKIS_GATEWAY__MAXREADINGSPERSEC: "10000",
    },
  })
  children.push(c)
  await c.waitForLine(/gateway listening on/, 20_000)
  return c
}

beforeAll(async () => {
  ;[nats, pki] = await Promise.all([startNats(), makeTestPki()])
  await createDeviceCerts(pki.dir, fleetIds(20, "kill-"))
  nc = await nats.connect()
  // The gateways' own credentials may not create AKIS_TLM: a node (here the admin) does.
  await ensureTopology(await jetstreamManager(nc), topologyOptions(loadConfig()), { only: ["AKIS_TLM"] })
}, 60_000)
afterAll(async () => {
  for (const c of children) await c.kill()
  await nc?.close()
  await nats?.cleanup()
})

test("SIGKILL of a gateway mid-stream: devices fail over, resend, and the stream holds every reading exactly once in order", async () => {
  const [p1, p2] = [freePort(), freePort()]
  const gw1 = await startGatewayProcess("gw1", p1)
  await startGatewayProcess("gw2", p2)
  const fleet = runFleet({
    scenario: { devices: 20, prefix: "kill-", rate: 50, duration: 8, format: "json", anomalies: [] },
    schema: loadDeviceSchema(), certDir: pki.dir, spread: false, graceMs: 20_000,
    addresses: [{ host: "127.0.0.1", port: p1 }, { host: "127.0.0.1", port: p2 }],
  })
  await waitFor("some acks through gw1", () => fleet.stats.acked > 500, { timeoutMs: 15_000 })
  await gw1.kill("SIGKILL")
  const r = await fleet.done
  expect(r.reconnects).toBeGreaterThanOrEqual(20)
  expect(r.resent).toBeGreaterThan(0)
  expect(r.unacked).toBe(0)
  expect(r.acked).toBe(r.sent)
  const rows = await streamReadings(nc)
  const expected = new Map(fleet.links.map((l) => [l.device, l.lastAck]))
  expect([...expected.values()].every((n) => n > 300)).toBe(true)
  // Copies in the stream come only from resends (at most one per resent reading), never more.
  expect(checkDelivery(rows, expected, { maxDuplicates: r.resent })).toBeUndefined()
  const dups = rows.length - [...expected.values()].reduce((a, b) => a + b, 0)
  console.error(`failover: ${rows.length} readings in the stream, ${dups} resent duplicates removed by seq, ${r.resent} resent`)
}, 60_000)
