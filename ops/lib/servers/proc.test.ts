import { describe, expect, test } from "bun:test"
import { spawnChild } from "./proc.ts"

/** What mimalloc in a Bun child says its purge delay is (MIMALLOC_VERBOSE prints every option at start). */
const purgeDelay = async (env: Record<string, string>): Promise<string | undefined> => {
  const c = spawnChild("alloc", ["bun", "-e", "0"], { env: { MIMALLOC_VERBOSE: "1", ...env } })
  await c.exited
  return /option 'purge_delay': (-?\d+)/.exec(c.output())?.[1]
}

describe("spawned Bun processes", () => {
  test("keep freed pages: mimalloc runs with purge_delay -1", async () => {
    expect(await purgeDelay({})).toBe("-1")
  })

  test("an allocator setting of the caller wins", async () => {
    expect(await purgeDelay({ MIMALLOC_PURGE_DELAY: "250" })).toBe("250")
  })
})
