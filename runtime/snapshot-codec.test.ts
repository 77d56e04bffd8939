import { describe, expect, test } from "bun:test"
import { checkpointCodec, packSnapshot, unpackSnapshot } from "./snapshot-codec.ts"

const small = { v: 3, layout: "x".repeat(500), f: new Float64Array(200).fill(NaN) }
const big = { v: 3, layout: "x".repeat(500), f: Float64Array.from({ length: 5_000 }, (_, i) => Math.sin(i) * 1e3) }
const bits = (x: unknown) => Buffer.from(checkpointCodec.pack(x) as Uint8Array)

describe("packed actor snapshots", () => {
  test("a small snapshot is deflated, a large one kept as it is behind a marker byte; both read back bit for bit", () => {
    const s = packSnapshot(small)
    const b = packSnapshot(big)
    expect(s.length).toBeLessThan(bits(small).length / 2)
    expect(b.length).toBe(bits(big).length + 1)
    expect(bits(unpackSnapshot(s))).toEqual(bits(small))
    expect(bits(unpackSnapshot(b))).toEqual(bits(big))
  })

  test("a large snapshot deflated by the earlier code still reads (no deflate stream starts like the marker)", () => {
    const old = Bun.deflateSync(checkpointCodec.pack(big) as Uint8Array<ArrayBuffer>, { level: 1 })
    expect(bits(unpackSnapshot(old))).toEqual(bits(big))
    for (const x of [small, big, { v: 2, rules: [] }, null, "text"]) expect(Bun.deflateSync(checkpointCodec.pack(x) as Uint8Array<ArrayBuffer>, { level: 1 })[0]! & 0x06).not.toBe(0x06)
  })
})
