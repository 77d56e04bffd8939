/**
 * A representative sample of the gateway frame fuzzing (tests/fuzz/gateway-frames.ts); the
 * ≥ 1M-frame run is `bun tests/fuzz/gateway-frames.ts 1000000`.
 */
import { describe, expect, test } from "bun:test"
import { fuzz } from "./gateway-frames.ts"

describe("gateway frame fuzzing", () => {
  test("every generated frame gets exactly one answer, the expected one where known, every refusal counted; nothing throws", () => {
    const r = fuzz(10_000)
    expect(r.total).toBeGreaterThanOrEqual(10_000)
  }, 60_000)
})
