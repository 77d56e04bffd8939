import { afterAll, describe, expect, test } from "bun:test"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import type { Explanation } from "../interpreter/annotation.ts"
import { tempDir } from "../../tests/harness/index.ts"
import { makeChdbStore } from "./chdb-store.ts"
import { explanationsOf, writeExplanations } from "./explanations.ts"
import { migrate } from "./tables.ts"

const store = makeChdbStore(tempDir("akis-chdb-expl-"))
afterAll(() => store.close())

const x = (i: number, over: Partial<Explanation> = {}): Explanation => ({
  kind: "explanation", transitionId: `bus-1:overheating:7:${i === 0 ? "raised:warning" : "escalated:critical"}`, alertId: "bus-1:overheating:7",
  device: "bus-1", rule: "overheating", at: Date.UTC(2026, 10, 25, 12, 0, i), model: "phi3:mini", text: `why ${i}: it's "hot"\n\\ok`,
  createdAt: Date.UTC(2026, 10, 25, 12, 0, 10 + i), latencyMs: 1234 + i, cached: i === 1, ...over,
})

describe("alert explanations", () => {
  test("are stored once per transition even when written twice, text kept byte for byte", async () => {
    const report = await migrate(store, loadDeviceSchema())
    expect(report.created).toContain("alert_explanations")
    await writeExplanations(store, [x(0), x(1)])
    await writeExplanations(store, [x(0)]) // a redelivered annotation
    expect(await explanationsOf(store, "bus-1:overheating:7")).toEqual([x(0), x(1)].map((e) => ({ ...e, at: Math.floor(e.at / 1000) * 1000 })))
    expect(await explanationsOf(store, "bus-2:overheating:7")).toEqual([])
    // Migrating again changes nothing.
    expect((await migrate(store, loadDeviceSchema())).created).not.toContain("alert_explanations")
  })

  test("refuses an alert id that is not a plain token before any SQL is sent", async () => {
    await expect(explanationsOf(store, "x' OR '1'='1")).rejects.toMatchObject({ _tag: "HistoryInputInvalid" })
  })
})
