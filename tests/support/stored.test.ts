/**
 * The in-ClickHouse range check (used by `ops bench e2e` on millions of rows) agrees with the
 * set comparison in JS, on correct data and on data with one fault each.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { makeClickHouseStore, type Store } from "../../actors/sink/index.ts"
import { startClickHouse, type ClickHouseServer } from "../harness/index.ts"
import { ackedKeys, compareSets, readingKey, wasSent, type DeviceRange } from "./sets.ts"
import { rangeCheck, storedRows } from "./stored.ts"

let ch: ClickHouseServer
let store: Store
beforeAll(async () => {
  ch = await startClickHouse()
  store = makeClickHouseStore({ url: ch.url, requestTimeoutMs: 30_000 })
}, 60_000)
afterAll(async () => {
  await store?.close()
  await ch?.cleanup()
})

const ranges: DeviceRange[] = [
  { device: "bus-0001", first: 1_700_000_000_100, sent_to: 1_700_000_000_140, acked_to: 1_700_000_000_130, rejected: [] },
  { device: "bus-0002", first: 1_700_000_000_100, sent_to: 1_700_000_000_110, acked_to: 1_700_000_000_110, rejected: [1_700_000_000_105] },
  { device: "bus-0003", first: 1_700_000_000_100, sent_to: 1_700_000_000_103, acked_to: -1, rejected: [] },
]
type Row = { device_id: string; seq: number }
const good = (): Row[] => [
  ...[...ackedKeys(ranges)].map((k) => ({ device_id: k.split("/")[0]!, seq: Number(k.split("/")[1]) })),
  { device_id: "bus-0001", seq: 1_700_000_000_135 }, // sent, not acked: allowed
  { device_id: "bus-0009", seq: 5 }, // another device: not looked at
]

const cases: Record<string, (rows: Row[]) => Row[]> = {
  correct: (r) => r,
  "one dropped": (r) => r.filter((x) => !(x.device_id === "bus-0001" && x.seq === 1_700_000_000_120)),
  "one twice": (r) => [...r, { device_id: "bus-0002", seq: 1_700_000_000_101 }],
  "never sent": (r) => [...r, { device_id: "bus-0001", seq: 1_700_000_000_141 }],
  "rejected stored": (r) => [...r, { device_id: "bus-0002", seq: 1_700_000_000_105 }],
  "dropped, unacked stored instead": (r) => [...r.filter((x) => !(x.device_id === "bus-0002" && x.seq === 1_700_000_000_110)), { device_id: "bus-0001", seq: 1_700_000_000_136 }],
}

describe("rangeCheck in ClickHouse", () => {
  for (const [name, fault] of Object.entries(cases)) {
    test(`agrees with compareSets: ${name}`, async () => {
      const t = `rc_${name.replace(/\W+/g, "_")}`
      await store.exec(`CREATE TABLE ${t} (device_id String, seq UInt64) ENGINE = MergeTree ORDER BY (device_id, seq)`)
      await store.insert(t, ["device_id", "seq"], "JSONEachRow", fault(good()).map((r) => JSON.stringify(r)).join("\n"))
      const rows = (await storedRows(store, t)).filter((r) => ranges.some((x) => x.device === r.device_id))
      const js = compareSets(ackedKeys(ranges), rows, (r) => readingKey(r.device_id, r.seq), { allowed: wasSent(ranges) })
      const sql = await rangeCheck(store, t, ranges)
      expect({ lost: sql.lost, duplicated: sql.duplicated, unexpected: sql.unexpected, extra: sql.extraRows })
        .toEqual({ lost: js.missing, duplicated: js.duplicated, unexpected: js.unexpected, extra: js.extraCopies })
      expect(sql.acked).toBe([...ackedKeys(ranges)].length)
      if (name === "correct") expect(sql).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0, extraRows: 0 })
      else expect(sql.lost + sql.duplicated + sql.unexpected).toBeGreaterThan(0)
    })
  }
})
