import { Schema, SchemaIssue } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import YAML from "yaml"
import { ConfigInvalid } from "./errors.ts"
import { isSecretKey, redact } from "./redact.ts"
import { AkisConfig } from "./schema.ts"

/** Where the default configuration file lives. */
export const defaultConfigPath = join(import.meta.dir, "default.yaml")

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** Deep-merges `over` onto `base`: objects merge key by key, everything else replaces. */
export const merge = (base: unknown, over: unknown): unknown => {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v)
  return out
}

/**
 * `AKIS_` variables that are not configuration: the config file's path, and the benchmarks'
 * profiling switch (which spawned nodes inherit with the rest of the environment).
 */
export const nonConfigVars: ReadonlySet<string> = new Set(["AKIS_CONFIG", "AKIS_PROFILE_DIR"])

/**
 * Turns `AKIS_<SECTION>__<KEY>=value` variables into a nested object. Key segments match the
 * config's keys case-insensitively (AKIS_NODE__HEARTBEATMS → node.heartbeatMs); values are parsed
 * as YAML scalars or flow lists, so `AKIS_NODE__ROLES=[worker]` and `AKIS_CLUSTER__PARTITIONS=8` work.
 */
export const envOverrides = (env: Record<string, string | undefined>, shape: unknown): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith("AKIS_") || raw === undefined || nonConfigVars.has(name)) continue
    const segments = name.slice(5).toLowerCase().split("__")
    let target = out
    let shapeAt: unknown = shape
    segments.forEach((seg, i) => {
      const key = (isObject(shapeAt) && Object.keys(shapeAt).find((k) => k.toLowerCase() === seg)) || seg
      shapeAt = isObject(shapeAt) ? shapeAt[key] : undefined
      if (i === segments.length - 1) {
        // Lists may be written plainly: AKIS_NATS__SERVERS=nats://a:4222,nats://b:4222
        const list = Array.isArray(shapeAt) && !raw.trim().startsWith("[")
        target[key] = typeof shapeAt === "string" ? raw : list ? raw.split(",").map((v) => YAML.parse(v.trim())) : YAML.parse(raw)
      }
      else target = (target[key] = isObject(target[key]) ? target[key] : {}) as Record<string, unknown>
    })
  }
  return out
}

const valueAt = (root: unknown, path: string): unknown =>
  path.split(".").reduce<unknown>((v, k) => (isObject(v) || Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined), root)

/** Issues as `{ path, message }` (Standard Schema), without the input: the value is added below, redacted. */
const flatten = SchemaIssue.makeFormatterStandardSchemaV1()

/** Paths (dot-joined) of the keys the schema does not know, found in the issue tree. */
const unknownKeys = (issue: SchemaIssue.Issue): Set<string> => {
  const out = new Set<string>()
  const walk = (i: SchemaIssue.Issue, path: ReadonlyArray<PropertyKey>): void => {
    if (i._tag === "UnexpectedKey") out.add(path.map(String).join("."))
    else if (i._tag === "Pointer") walk(i.issue, [...path, ...i.path])
    else if (i._tag === "Composite" || i._tag === "AnyOf") for (const c of i.issues) walk(c, path)
    else if (i._tag === "Filter" || i._tag === "Encoding") walk(i.issue, path)
  }
  walk(issue, [])
  return out
}

/** One line per issue: `path: what was expected, got <value>` (the value redacted; none for an unknown key). */
const formatIssues = (err: Schema.SchemaError, input: unknown): string => {
  const unknown = unknownKeys(err.issue)
  return flatten(err.issue).issues.map(({ path: segments, message }) => {
    const path = (segments ?? []).map((s) => String(typeof s === "object" ? s.key : s)).join(".")
    const actual = valueAt(input, path)
    const secret = isSecretKey(path.split(".").pop() ?? "") // a password's value never reaches the terminal or a log
    const got = actual === undefined || unknown.has(path) ? "" : `, got ${secret ? "***" : JSON.stringify(redact(actual))}`
    return `  ${path}: ${message}${got}`
  }).join("\n")
}

/** Options for {@link loadConfig}. */
export interface LoadOptions {
  /** A YAML file merged over the defaults. */
  readonly file?: string | undefined
  /** Values merged last (tests, command-line flags). */
  readonly overrides?: unknown
  /** Environment to read `AKIS_*` from; pass `{}` to ignore the environment. */
  readonly env?: Record<string, string | undefined>
}

/**
 * Loads and validates the configuration: defaults ← file ← AKIS_* environment ← overrides.
 * Throws {@link ConfigInvalid} naming every bad key with what was expected.
 */
export const loadConfig = (opts: LoadOptions = {}): AkisConfig => {
  const read = (path: string): unknown => {
    try {
      return YAML.parse(readFileSync(path, "utf8")) ?? {}
    } catch (cause) {
      throw new ConfigInvalid({ message: `config: cannot read ${path}: ${(cause as Error).message}`, cause })
    }
  }
  const env = opts.env ?? process.env
  const file = opts.file ?? env.AKIS_CONFIG
  const base = read(defaultConfigPath)
  let merged = merge(base, file ? read(file) : {})
  merged = merge(merged, envOverrides(env, base))
  merged = merge(merged, opts.overrides ?? {})
  try {
    return Schema.decodeUnknownSync(AkisConfig)(merged, { errors: "all", onExcessProperty: "error" })
  } catch (cause) {
    const detail = Schema.isSchemaError(cause) ? formatIssues(cause, merged) : String(cause)
    throw new ConfigInvalid({ message: `invalid config${file ? ` (${file})` : ""}:\n${detail}`, cause })
  }
}
