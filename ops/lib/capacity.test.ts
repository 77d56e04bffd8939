import { describe, expect, test } from "bun:test"
import { capacityChart, capacityTable, formatBytes, projectCapacity } from "./capacity.ts"

const base = { devices: 100, growthPerMonth: 25, rate: 2, hours: 18, replicas: 2, years: 3, bytesPerRow: 100, fill: 0.75, retentionDays: 0 }

describe("capacity model", () => {
  test("a fleet without growth stores rate × seconds × days × bytes × replicas per year", () => {
    const [y1] = projectCapacity({ ...base, growthPerMonth: 0, years: 1 })
    const rows = 100 * 2 * 3600 * 18 * 365.25
    expect(y1!.rows).toBeCloseTo(rows, 0)
    expect(y1!.bytesAdded).toBeCloseTo(rows * 100 * 2, -3)
    expect(y1!.diskNeeded).toBeCloseTo((rows * 100 * 2) / 0.75, -3)
  })

  test("devices grow linearly and storage accumulates when everything is kept", () => {
    const ys = projectCapacity(base)
    expect(ys.map((y) => y.devices)).toEqual([400, 700, 1000])
    expect(ys.map((y) => y.readingsPerSec)).toEqual([800, 1400, 2000])
    expect(ys[2]!.bytesStored).toBeCloseTo(ys[0]!.bytesAdded + ys[1]!.bytesAdded + ys[2]!.bytesAdded, -3)
  })

  test("retention caps what is stored", () => {
    const ys = projectCapacity({ ...base, growthPerMonth: 0, retentionDays: 365.25 / 12 })
    expect(ys[2]!.bytesStored).toBeCloseTo(ys[2]!.bytesAdded / 12, -3)
  })

  test("prints a table and a chart", () => {
    const ys = projectCapacity(base)
    expect(capacityTable(ys).split("\n")).toHaveLength(5)
    expect(capacityChart(ys)).toContain("year  3")
    expect(formatBytes(1_500_000_000)).toBe("1.50 GB")
  })
})
