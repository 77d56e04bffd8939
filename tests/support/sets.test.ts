/**
 * The checks behind the end-to-end and fault tests, fed sets with one fault each: they must see
 * a dropped reading, a reading stored twice, a stored reading never sent, and an alert raised twice.
 */
import { describe, expect, test } from "bun:test"
import { ackedKeys, compareSets, readingKey, setsMatch, wasSent, type DeviceRange } from "./sets.ts"

const ranges: DeviceRange[] = [
  { device: "bus-0001", first: 100, sent_to: 120, acked_to: 118, rejected: [] },
  { device: "bus-0002", first: 100, sent_to: 110, acked_to: 110, rejected: [105] },
  { device: "bus-0003", first: 100, sent_to: 103, acked_to: -1, rejected: [] },
]
type Row = { device_id: string; seq: number }
/** Rows a correct pipeline may store: every acked reading once, plus one sent-but-unacked one. */
const good = (): Row[] => [
  ...[...ackedKeys(ranges)].map((k) => ({ device_id: k.split("/")[0]!, seq: Number(k.split("/")[1]) })),
  { device_id: "bus-0001", seq: 119 },
]
const check = (rows: Row[]) => compareSets(ackedKeys(ranges), rows, (r) => readingKey(r.device_id, r.seq), { allowed: wasSent(ranges) })

describe("set checks", () => {
  test("acked keys: the ranges minus rejected seqs", () => {
    expect([...ackedKeys(ranges)].length).toBe(19 + 10)
    expect([...ackedKeys(ranges)]).not.toContain("bus-0002/105")
  })
  test("a correct run passes", () => {
    const d = check(good())
    expect(setsMatch(d)).toBe(true)
    expect(d.extraCopies).toBe(0)
  })
  test("one reading dropped fails, even when an unacked one was stored in its place", () => {
    const rows = good().filter((r) => !(r.device_id === "bus-0002" && r.seq === 107))
    rows.push({ device_id: "bus-0001", seq: 120 }) // a net count would call this even
    const d = check(rows)
    expect(d.missing).toBe(1)
    expect(d.examples.missing).toEqual(["bus-0002/107"])
    expect(setsMatch(d)).toBe(false)
  })
  test("one reading stored twice fails", () => {
    const rows = [...good(), { device_id: "bus-0001", seq: 110 }]
    const d = check(rows)
    expect(d.duplicated).toBe(1)
    expect(d.extraCopies).toBe(1)
    expect(setsMatch(d)).toBe(false)
  })
  test("an unacked reading stored twice fails too", () => {
    const d = check([...good(), { device_id: "bus-0001", seq: 119 }])
    expect(d.duplicated).toBe(1)
  })
  test("a reading never sent, a rejected one, or an unknown device is unexpected", () => {
    for (const extra of [{ device_id: "bus-0001", seq: 121 }, { device_id: "bus-0002", seq: 105 }, { device_id: "bus-0009", seq: 100 }, { device_id: "bus-0001", seq: 99 }]) {
      const d = check([...good(), extra])
      expect(d.unexpected).toBe(1)
      expect(setsMatch(d)).toBe(false)
    }
  })
  test("alert transitions: one raised twice, one missing, one unexpected", () => {
    type T = { device: string; rule: string; kind: string; id: string }
    const key = (t: T) => `${t.device}/${t.rule}/${t.kind}`
    const expected = ["bus-0042/overheating/raised"]
    const ok: T[] = [{ device: "bus-0042", rule: "overheating", kind: "raised", id: "a" }]
    expect(setsMatch(compareSets(expected, ok, key))).toBe(true)
    expect(compareSets(expected, [...ok, { ...ok[0]!, id: "b" }], key).duplicated).toBe(1)
    expect(compareSets(expected, [], key).missing).toBe(1)
    expect(compareSets(expected, [...ok, { device: "bus-0001", rule: "overspeed", kind: "raised", id: "c" }], key).unexpected).toBe(1)
  })
})
