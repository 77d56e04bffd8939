import { describe, expect, test } from "bun:test"
import { allows, bearer, newToken, RateLimiter, verifyToken, type TokenRecord } from "./auth.ts"

describe("tokens", () => {
  const now = 1_000_000
  const { record, token } = newToken("ci", "operator", now, now + 60_000, "admin")
  const lookup = (id: string): TokenRecord | undefined => (id === record.id ? record : undefined)

  test("a new token verifies; the record holds only a hash of the secret", () => {
    expect(token).toMatch(/^akis_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/)
    expect(JSON.stringify(record)).not.toContain(token.slice(`akis_${record.id}_`.length))
    expect(verifyToken(token, lookup, now)).toEqual({ ok: true, record })
  })

  test.each([
    ["missing", undefined, now],
    ["malformed", "hello", now],
    ["unknown", token.replace(record.id, "ffffffff"), now],
    ["bad_secret", token.slice(0, -4) + "AAAA", now],
    ["expired", token, now + 60_000],
  ] as const)("refuses a %s token", (why, presented, at) => {
    expect(verifyToken(presented, lookup, at)).toEqual({ ok: false, why })
  })

  test("refuses a revoked token", () => {
    expect(verifyToken(token, () => ({ ...record, revokedAt: now }), now)).toEqual({ ok: false, why: "revoked" })
  })

  test("roles include the ones below them", () => {
    expect([allows("viewer", "viewer"), allows("viewer", "operator"), allows("operator", "viewer"), allows("operator", "admin"), allows("admin", "operator")])
      .toEqual([true, false, true, false, true])
  })

  test("reads a bearer header", () => {
    expect([bearer("Bearer abc"), bearer("bearer  abc "), bearer("Basic abc"), bearer(undefined)]).toEqual(["abc", "abc", undefined, undefined])
  })
})

describe("RateLimiter", () => {
  test("allows a burst, then refills at the rate; keys are independent", () => {
    let t = 0
    const rl = new RateLimiter({ perSec: 2, burst: 3 }, () => t)
    expect([rl.take("a"), rl.take("a"), rl.take("a"), rl.take("a")]).toEqual([0, 0, 0, 1])
    expect(rl.take("b")).toBe(0)
    t += 500 // half a second refills one request
    expect([rl.take("a"), rl.take("a")]).toEqual([0, 1])
  })
})
