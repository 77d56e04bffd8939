import { afterAll, describe, expect, test } from "bun:test"
import { jetstreamManager } from "@nats-io/jetstream"
import { startClickHouse, startNats, startNatsCluster } from "./index.ts"

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => void (await Promise.all(cleanups.map((c) => c()))))

describe("test harness", () => {
  test("starts a private nats-server with JetStream and restarts it with its data", async () => {
    const ns = await startNats()
    cleanups.push(ns.cleanup)
    const nc = await ns.connect()
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: "T", subjects: ["t.>"] })
    await ns.stop()
    await ns.start()
    const nc2 = await ns.connect()
    expect((await (await jetstreamManager(nc2)).streams.info("T")).config.name).toBe("T")
  })

  test("starts a 3-server JetStream cluster that accepts an R3 stream", async () => {
    const cluster = await startNatsCluster(3)
    cleanups.push(cluster.cleanup)
    const nc = await cluster.connect()
    const jsm = await jetstreamManager(nc)
    const si = await jsm.streams.add({ name: "R3", subjects: ["r3.>"], num_replicas: 3 })
    expect(si.config.num_replicas).toBe(3)
    await nc.close()
  }, 60_000)

  test("starts a private ClickHouse server", async () => {
    const ch = await startClickHouse()
    cleanups.push(ch.cleanup)
    const r = await fetch(`${ch.url}/?query=SELECT%20version()`)
    expect((await r.text()).trim()).toMatch(/^\d+\.\d+/)
  }, 60_000)
})
