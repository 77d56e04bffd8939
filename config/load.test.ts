import { describe, expect, test } from "bun:test"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ConfigInvalid, loadConfig } from "./index.ts"

describe("config", () => {
  test("loads the defaults when nothing is given", () => {
    const c = loadConfig({ env: {} })
    expect(c.cluster.partitions).toBe(64)
    expect(c.node.suspicionMs).toBe(3000)
  })

  test("a file overrides the defaults and the environment overrides the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "akis-cfg-"))
    const file = join(dir, "c.yaml")
    writeFileSync(file, "cluster:\n  partitions: 8\nnode:\n  heartbeatMs: 500\n")
    const c = loadConfig({ file, env: { AKIS_CLUSTER__PARTITIONS: "16", AKIS_NODE__ROLES: "[worker]" } })
    expect(c.cluster.partitions).toBe(16)
    expect(c.node.heartbeatMs).toBe(500)
    expect(c.node.roles).toEqual(["worker"])
  })

  test("a list can be given plainly, comma-separated", () => {
    const c = loadConfig({ env: { AKIS_NATS__SERVERS: "nats://a:4222,nats://b:4222" } })
    expect(c.nats.servers).toEqual(["nats://a:4222", "nats://b:4222"])
  })

  test("string keys keep env values as text", () => {
    const c = loadConfig({ env: { AKIS_NODE__ID: "123" } })
    expect(c.node.id).toBe("123")
  })

  test("a wrong value fails with the key path and what was expected", () => {
    const run = () => loadConfig({ env: { AKIS_CLUSTER__PARTITIONS: "-3", AKIS_STREAMS__REPLICAS: "2" } })
    expect(run).toThrow(ConfigInvalid)
    try {
      run()
    } catch (e) {
      const msg = (e as ConfigInvalid).message
      expect(msg).toContain("cluster.partitions: Expected a value between 1 and 4096, got -3")
      expect(msg).toContain("streams.replicas")
    }
  })

  test("the non-config AKIS_ variables are left alone; any other unknown one is refused", () => {
    const c = loadConfig({ env: { AKIS_PROFILE_DIR: "/tmp/p", AKIS_CONFIG: "" } })
    expect(c.node.heartbeatMs).toBe(1000)
    expect(() => loadConfig({ env: { AKIS_PROFILE_DIRS: "/tmp/p" } })).toThrow(/profile_dirs/)
  })

  test("a rollup look-back shorter than one insert attempt is refused with the bound it needs", () => {
    expect(() => loadConfig({ env: { AKIS_CLICKHOUSE__ROLLUPOVERLAPS: "30" } })).toThrow(/clickhouse.rollupOverlapS: must cover one insert attempt: at least requestTimeoutMs \+ 10 s \(40 s\)/)
    expect(loadConfig({ env: { AKIS_CLICKHOUSE__ROLLUPOVERLAPS: "30", AKIS_CLICKHOUSE__REQUESTTIMEOUTMS: "20000" } }).clickhouse.rollupOverlapS).toBe(30)
  })

  test("an unknown key is refused rather than ignored", () => {
    expect(() => loadConfig({ env: {}, overrides: { cluster: { partitons: 3 } } })).toThrow(/cluster.partitons/)
  })

  test("issues come from the Schema issue tree: one line each, list indexes in the path, no value shown for an unknown key", () => {
    const msg = (() => {
      try {
        loadConfig({ env: {}, overrides: { cluster: { partitons: 3 }, node: { roles: ["worker", "bogus"] } } })
      } catch (e) {
        return (e as ConfigInvalid).message
      }
      return ""
    })()
    expect(msg.split("\n").slice(1).sort()).toEqual([
      "  cluster.partitons: Expected no excess property",
      '  node.roles.1: Expected "worker" | "gateway" | "api" | "notifier", got "bogus"',
    ])
  })

  test("an unreadable file names the file", () => {
    expect(() => loadConfig({ env: {}, file: "/nonexistent/akis.yaml" })).toThrow(/cannot read \/nonexistent\/akis.yaml/)
  })
})
