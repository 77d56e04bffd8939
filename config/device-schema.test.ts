import { describe, expect, test } from "bun:test"
import { ConfigInvalid } from "./errors.ts"
import { loadDeviceSchema, makeDeviceSchema } from "./device-schema.ts"

describe("device schema", () => {
  test("the reference bus has 48 fields in file order", () => {
    const s = loadDeviceSchema()
    expect(s.fields.length).toBe(48)
    expect(s.fields[0]!.name).toBe("speed_kmh")
    expect(s.byName.get("engine_rpm")!.index).toBe(1)
    expect(s.byName.get("door_front_open")!.kind).toBe("bool")
  })

  test("refuses a field whose min is not below its max", () => {
    expect(() => makeDeviceSchema({ type: "t", version: 1, fields: { a: { unit: "x", min: 5, max: 1 } } })).toThrow(ConfigInvalid)
  })

  test("refuses field names that are not lower_snake_case", () => {
    expect(() => makeDeviceSchema({ type: "t", version: 1, fields: { "Bad Name": { unit: "x", min: 0, max: 1 } } })).toThrow(/Bad Name/)
  })
})
