import { describe, expect, test } from "bun:test"
import { AckGate, ackModeLine, isAckModeFrame, parseAckMode } from "./ack-mode.ts"

const enc = new TextEncoder()

describe("ack mode lines", () => {
  test.each([
    ['{"ack":"each"}', "ACKMODE each\n"],
    ['{"ack":"none"}', "ACKMODE none\n"],
    ['{ "ack":"coalesced","ms":250}', "ACKMODE coalesced ms=250\n"],
  ])("%s is answered %p", (line, answer) => {
    expect(isAckModeFrame(enc.encode(line))).toBe(true)
    const m = parseAckMode(enc.encode(line))
    expect("code" in m).toBe(false)
    expect(ackModeLine(m as Exclude<typeof m, { code: string }>)).toBe(answer)
  })

  test.each(['{"ack":"coalesced"}', '{"ack":"coalesced","ms":5}', '{"ack":"coalesced","ms":1e9}', '{"ack":"sometimes"}', '{"ack":'])("%s is refused with bad_ack_mode", (line) => {
    expect(parseAckMode(enc.encode(line))).toMatchObject({ code: "bad_ack_mode" })
  })

  test("a reading is not an ack line", () => {
    expect(isAckModeFrame(enc.encode('{"seq":1,"ts":2,"ack":"none"}'))).toBe(false)
  })
})

describe("AckGate", () => {
  test("each: every advance is written", () => {
    const g = new AckGate()
    expect([g.durable(1, 0), g.durable(2, 1)]).toEqual([1, 2])
  })

  test("coalesced: at most one ACK per interval, the latest durable seq, none lost", () => {
    const g = new AckGate()
    g.set({ kind: "coalesced", ms: 100 })
    expect(g.durable(1, 0)).toBe(1)
    expect(g.durable(2, 10)).toBeUndefined()
    expect(g.durable(3, 50)).toBeUndefined()
    expect(g.waitMs(50)).toBe(50)
    expect(g.due(99)).toBeUndefined()
    expect(g.due(100)).toBe(3)
    expect(g.waitMs(100)).toBeUndefined()
    expect(g.durable(4, 150)).toBeUndefined()
    expect(g.take()).toBe(4)
  })

  test("none: nothing is written; switching back releases nothing lost", () => {
    const g = new AckGate()
    g.set({ kind: "none" })
    expect(g.durable(1, 0)).toBeUndefined()
    expect(g.set({ kind: "each" })).toBeUndefined()
    expect(g.durable(2, 1)).toBe(2)
  })
})
