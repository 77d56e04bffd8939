/**
 * Secrets never reach a node's log: a ClickHouse URL with credentials, the ClickHouse password
 * and the NATS credentials appear nowhere in what `bun run node` prints, while the line that
 * names the URL is still there (with the password masked).
 */
import { afterAll, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { seedPath } from "../runtime/nats/auth.ts"
import { freePort, spawnChild, startNats, type NatsServer } from "./harness/index.ts"
import { testNodeEnv } from "./support/cluster.ts"

let ns: NatsServer | undefined
afterAll(async () => ns?.cleanup())

test("a node logs the ClickHouse URL without its password, and no other secret", async () => {
  ns = await startNats()
  const deadPort = freePort() // nothing listens: the node keeps logging clickhouse.unavailable with the URL and the error
  const node = spawnChild("secret-node", ["bun", join(import.meta.dir, "..", "ops/main-node.ts")], {
    cwd: join(import.meta.dir, ".."),
    env: testNodeEnv(ns.url, 4, {
      AKIS_NODE__ROLES: "[worker]", AKIS_NODE__ID: "secret-node",
      AKIS_CLICKHOUSE__URL: `http://akis:url-s3cret@127.0.0.1:${deadPort}`,
      AKIS_CLICKHOUSE__PASSWORD: "field-s3cret",
    }),
  })
  try {
    const line = await node.waitForLine(/clickhouse\.unavailable/, 30_000)
    expect(line).toContain(`http://akis:***@127.0.0.1:${deadPort}`)
    await Bun.sleep(1_500) // a retry or two more
  } finally {
    await node.kill()
  }
  const out = node.output()
  expect(out).not.toContain("s3cret")
  const seed = readFileSync(seedPath(ns.credsDir!, "node"), "utf8").trim()
  expect(out).not.toContain(seed)
}, 60_000)
