/** ops/lib/launcher.ts's probe tells a NATS that refuses the credentials from no NATS at all, by the client's error class. */
import { expect, test } from "bun:test"
import { probeNats } from "../ops/lib/launcher.ts"
import { startNats } from "./harness/index.ts"

test("a NATS that refuses these credentials is there (AuthorizationError), not absent", async () => {
  const ns = await startNats() // the harness credentials: an anonymous client is refused
  try {
    expect(ns.credsDir).toBeDefined()
    expect(await probeNats([ns.url])).toEqual({ state: "jetstream", detail: "refused these credentials" })
  } finally {
    await ns.cleanup()
  }
})
