import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { freePort } from "./ports.ts"

describe("freePort", () => {
  test("hands out distinct, listenable ports below the range outgoing connections take theirs from", () => {
    const lo = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0])
    const ports = Array.from({ length: 300 }, () => freePort())
    expect(new Set(ports).size).toBe(ports.length)
    expect(ports.filter((p) => p >= lo)).toEqual([])
    const s = Bun.listen({ hostname: "127.0.0.1", port: ports[0]!, socket: { data() {} } })
    s.stop(true)
  })
})
