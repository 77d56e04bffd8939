/** The stream checker of the gateway fault tests, fed a stream with one fault each: it must fail. */
import { describe, expect, test } from "bun:test"
import { checkDelivery } from "./fixture.ts"

const expected = new Map([["a", 4], ["b", 3]])
const good: Array<[string, number]> = [["a", 1], ["b", 1], ["a", 2], ["a", 3], ["b", 2], ["b", 3], ["a", 4]]

describe("checkDelivery", () => {
  test("a complete stream in order passes", () => expect(checkDelivery(good, expected)).toBeUndefined())
  test("a resent copy passes only when a resend was made", () => {
    const withCopy: Array<[string, number]> = [...good.slice(0, 4), ["a", 2], ["a", 3], ...good.slice(4)]
    expect(checkDelivery(withCopy, expected, { maxDuplicates: 2 })).toBeUndefined()
    expect(checkDelivery(withCopy, expected, { maxDuplicates: 1 })).toContain("duplicate")
    expect(checkDelivery(withCopy, expected)).toContain("duplicate")
  })
  test("a missing reading fails", () => expect(checkDelivery(good.filter(([d, s]) => !(d === "b" && s === 2)), expected, { maxDuplicates: 9 })).toContain("1 missing"))
  test("a reading never acked fails", () => expect(checkDelivery([...good, ["a", 5]], expected)).toContain("1 unexpected"))
  test("disorder fails", () => expect(checkDelivery([["a", 2], ["a", 1], ...good.slice(1).filter(([d]) => d === "b"), ["a", 3], ["a", 4]], expected)).toContain("disorder"))
})
