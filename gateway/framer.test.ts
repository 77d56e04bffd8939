import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import { pack } from "msgpackr"
import { FrameKind, Framer, frameMsgpack, type FrameSink } from "./framer.ts"

const enc = new TextEncoder()
const collect = () => {
  const frames: Array<[FrameKind, string]> = []
  const oversized: number[] = []
  const sink: FrameSink = {
    frame: (k, b) => {
      frames.push([k, k === FrameKind.msgpack ? Buffer.from(b).toString("hex") : new TextDecoder().decode(b)])
    },
    oversized: (n) => oversized.push(n),
  }
  return { frames, oversized, sink }
}

describe("Framer", () => {
  test("cuts JSON and CSV lines and tells them apart by the first byte", () => {
    const c = collect()
    new Framer(100).feed(enc.encode('{"a":1}\nbus-1,1,2\r\n\n'), c.sink)
    expect(c.frames).toEqual([[FrameKind.json, '{"a":1}'], [FrameKind.csv, "bus-1,1,2"]])
  })

  test("reassembles frames split at every byte boundary", () => {
    const mp = frameMsgpack(pack({ seq: 1 }))
    const all = new Uint8Array([...enc.encode('{"x":1}\n'), ...mp, ...enc.encode("a,b\n")])
    for (let cut = 0; cut <= all.length; cut++) {
      const c = collect()
      const f = new Framer(100)
      f.feed(all.subarray(0, cut), c.sink)
      f.feed(all.subarray(cut), c.sink)
      expect(c.frames.map((x) => x[0])).toEqual([FrameKind.json, FrameKind.msgpack, FrameKind.csv])
      expect(f.buffered).toBe(0)
    }
  })

  test("a slow sender delivering one byte per packet yields the same frames", () => {
    const text = enc.encode('{"a":1}\n{"b":2}\n')
    const c = collect()
    const f = new Framer(100)
    for (const b of text) f.feed(new Uint8Array([b]), c.sink)
    expect(c.frames).toEqual([[FrameKind.json, '{"a":1}'], [FrameKind.json, '{"b":2}']])
  })

  test("any chunking of a stream yields the same frames (property)", () => {
    const lines = fc.array(fc.stringMatching(/^[a-z0-9,{}":]{1,30}$/), { minLength: 1, maxLength: 20 })
    fc.assert(fc.property(lines, fc.array(fc.nat(40), { maxLength: 10 }), (ls, cuts) => {
      const bytes = enc.encode(ls.map((l) => `${l}\n`).join(""))
      const c = collect()
      const f = new Framer(100)
      let pos = 0
      for (const k of cuts) {
        const next = Math.min(bytes.length, pos + k)
        f.feed(bytes.subarray(pos, next), c.sink)
        pos = next
      }
      f.feed(bytes.subarray(pos), c.sink)
      expect(c.frames.map((x) => x[1])).toEqual(ls)
    }))
  })

  test("skips an oversized line up to its newline, reports it once, and keeps going", () => {
    const c = collect()
    const f = new Framer(10)
    f.feed(enc.encode("a".repeat(8)), c.sink)
    f.feed(enc.encode("b".repeat(8)), c.sink) // now 16 bytes without newline: too large
    f.feed(enc.encode("c".repeat(30)), c.sink)
    f.feed(enc.encode("d\nok,1\n"), c.sink)
    expect(c.oversized.length).toBe(1)
    expect(c.frames).toEqual([[FrameKind.csv, "ok,1"]])
  })

  test("an oversized line that arrives whole is reported and skipped", () => {
    const c = collect()
    new Framer(10).feed(enc.encode(`${"x".repeat(11)}\nok\n`), c.sink)
    expect(c.oversized).toEqual([11])
    expect(c.frames).toEqual([[FrameKind.csv, "ok"]])
  })

  test("an oversized msgpack frame is skipped by its announced length", () => {
    const c = collect()
    const f = new Framer(10)
    const big = frameMsgpack(new Uint8Array(50).fill(0xc0))
    f.feed(big.subarray(0, 20), c.sink)
    f.feed(new Uint8Array([...big.subarray(20), ...enc.encode("ok\n")]), c.sink)
    expect(c.oversized).toEqual([50])
    expect(c.frames).toEqual([[FrameKind.csv, "ok"]])
  })
})
