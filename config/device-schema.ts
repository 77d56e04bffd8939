import { Schema } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import YAML from "yaml"
import { ConfigInvalid } from "./errors.ts"

/** One measurement of a device type. */
export interface FieldSpec {
  readonly name: string
  /** Position in a reading's value row (schema order = file order). */
  readonly index: number
  readonly unit: string
  readonly min: number
  readonly max: number
  readonly kind: "float" | "int" | "bool"
}

/**
 * A device type's schema: the named numeric measurements of one reading, in order. The order is
 * the column order of `ReadingBatch.values`, of CSV frames and of the ClickHouse telemetry table.
 */
export interface DeviceSchema {
  readonly type: string
  readonly version: number
  readonly fields: ReadonlyArray<FieldSpec>
  /** Field by name. */
  readonly byName: ReadonlyMap<string, FieldSpec>
}

const FieldFile = Schema.Struct({
  unit: Schema.String,
  min: Schema.Finite,
  max: Schema.Finite,
  kind: Schema.optional(Schema.Literals(["float", "int", "bool"])),
})
const SchemaFile = Schema.Struct({
  type: Schema.NonEmptyString,
  version: Schema.Int.check(Schema.isGreaterThan(0)),
  fields: Schema.Record(Schema.String, FieldFile),
})

/** Builds a schema from its parsed YAML form, checking names and ranges. */
export const makeDeviceSchema = (raw: unknown, source = "device schema"): DeviceSchema => {
  let parsed: typeof SchemaFile.Type
  try {
    parsed = Schema.decodeUnknownSync(SchemaFile)(raw, { errors: "all" })
  } catch (cause) {
    throw new ConfigInvalid({ message: `${source}: ${(cause as Error).message}`, cause })
  }
  const fields = Object.entries(parsed.fields).map(([name, f], index): FieldSpec => {
    if (!/^[a-z][a-z0-9_]*$/.test(name)) {
      throw new ConfigInvalid({ message: `${source}: field name "${name}" must be lower_snake_case (a-z, 0-9, _)` })
    }
    if (!(f.min < f.max)) throw new ConfigInvalid({ message: `${source}: field ${name}: min (${f.min}) must be below max (${f.max})` })
    return { name, index, unit: f.unit, min: f.min, max: f.max, kind: f.kind ?? "float" }
  })
  if (fields.length === 0) throw new ConfigInvalid({ message: `${source}: no fields` })
  return { type: parsed.type, version: parsed.version, fields, byName: new Map(fields.map((f) => [f.name, f])) }
}

/** Path of the reference fleet's bus schema (48 fields). */
export const busSchemaPath = join(import.meta.dir, "devices", "bus.yaml")

/** Loads a device schema from a YAML file. */
export const loadDeviceSchema = (path = busSchemaPath): DeviceSchema => {
  let raw: unknown
  try {
    raw = YAML.parse(readFileSync(path, "utf8"))
  } catch (cause) {
    throw new ConfigInvalid({ message: `cannot read device schema ${path}: ${(cause as Error).message}`, cause })
  }
  return makeDeviceSchema(raw, path)
}
