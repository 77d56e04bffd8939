/** Applying the topology against a real nats-server with role credentials: waiting for a row another role must create. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { jetstreamManager } from "@nats-io/jetstream"
import { startNats, type NatsServer } from "../../tests/harness/index.ts"
import { TopologyUnavailable } from "../errors.ts"
import { ensureTopology, names, type TopologyOptions } from "./topology.ts"

const o: TopologyOptions = { replicas: 1, telemetryMaxAgeHours: 1, alertsMaxAgeHours: 1 }
let ns: NatsServer
beforeAll(async () => {
  ns = await startNats()
})
afterAll(async () => {
  await ns.cleanup()
})

describe("ensureTopology", () => {
  test("a role that may not create a missing stream waits for it (logging once), then says who can create it", async () => {
    const jsm = await jetstreamManager(await ns.connect("gateway"))
    const log: string[] = []
    const err = await ensureTopology(jsm, o, { only: [names.telemetry], waitMs: 1_200, log: (event) => log.push(event) }).catch((e) => e)
    expect(err).toBeInstanceOf(TopologyUnavailable)
    expect((err as Error).message).toContain("may not create it")
    expect(log).toEqual(["topology.waiting"])
  })

  test("without waiting, a missing stream is unavailable at once", async () => {
    const jsm = await jetstreamManager(await ns.connect("gateway"))
    const err = await ensureTopology(jsm, o, { only: [names.telemetry], create: false, waitMs: 0 }).catch((e) => e)
    expect(err).toBeInstanceOf(TopologyUnavailable)
    expect((err as Error).message).toContain("a node creates it at start")
  })

  test("a waiting role goes on once a node has created the stream", async () => {
    const waiting = ensureTopology(await jetstreamManager(await ns.connect("gateway")), o, { only: [names.telemetry], waitMs: 10_000 })
    await Bun.sleep(700)
    await ensureTopology(await jetstreamManager(await ns.connect("node")), o, { only: [names.telemetry] })
    expect(await waiting).toBeUndefined()
  })
})
