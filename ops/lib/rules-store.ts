import { Schema } from "effect"
import { TopologyConflict } from "../../runtime/errors.ts"
import { openTopologyKv, type Connection } from "../../runtime/nats/client.ts"
import type { HistoryKv, Kv, KvEntry } from "../../runtime/nats/ports.ts"
import { definition, names, type BucketDef, type TopologyOptions } from "../../runtime/nats/topology.ts"
import type { DeviceSchema } from "../../config/device-schema.ts"
import type { RuleSetPlan } from "../../config/rules/plan.ts"
import { RulesRejected, RulesStoreError } from "../../config/rules/errors.ts"
import { defaultRuleLimits, type RuleLimits } from "../../config/rules/limits.ts"
import { compileRules } from "../../config/rules/load.ts"
import type { RuleIssue } from "../../config/rules/spec.ts"

/** What one version in the `akis_rules` bucket holds (JSON). */
export interface RulesRecord {
  readonly version: number
  readonly source: string
  /** sha-256 of `source`. */
  readonly checksum: string
  /** Epoch ms. */
  readonly appliedAt: number
  /** Where it came from (file name, or "rollback of v3"). */
  readonly origin: string
}

/**
 * A rules record as read back from KV (written by any `ops rules apply` or API node). The schema
 * sits with this adapter, which was in config/ (importing nothing above it) when it was written.
 */
const decodeRulesRecord = Schema.decodeUnknownOption(Schema.Struct({
  version: Schema.Number,
  source: Schema.String,
  checksum: Schema.String,
  appliedAt: Schema.Number,
  origin: Schema.optionalKey(Schema.Unknown), // not text: read as "" (older records)
}))

/** Bucket and key of the active rule set. KV history is capped at 64 by NATS: rollback reaches the last 64 versions. */
export const rulesBucket = names.rules
export const rulesKey = "active"
const historyDepth = (definition(names.rules) as BucketDef).history

/**
 * Opens the rules bucket through the topology module (history 64, `replicas` from config streams.replicas):
 * created when missing, refused when it exists with other settings.
 */
export const openRulesKv = async (nc: Connection, topology: TopologyOptions): Promise<HistoryKv> => {
  try {
    return await openTopologyKv(nc, rulesBucket, topology)
  } catch (cause) {
    if (cause instanceof TopologyConflict) throw cause
    throw new RulesStoreError({ message: `cannot open KV bucket ${rulesBucket}: ${(cause as Error).message}`, cause })
  }
}

/** Decodes a KV entry into a record; undefined when it is not a well-formed rules record. */
export const decodeRecord = (e: Pick<KvEntry, "value" | "operation">): RulesRecord | undefined => {
  if (e.operation !== "PUT") return undefined
  let v: unknown
  try {
    v = JSON.parse(new TextDecoder().decode(e.value))
  } catch {
    return undefined
  }
  const r = decodeRulesRecord(v)
  return r._tag === "Some" ? { ...r.value, origin: typeof r.value.origin === "string" ? r.value.origin : "" } : undefined
}

/** The active record, if any. */
export const currentRules = async (kv: Kv): Promise<RulesRecord | undefined> => {
  const e = await kv.get(rulesKey)
  return e ? decodeRecord(e) : undefined
}

/**
 * Validates `source` against the schema and stores it as the next version (compare-and-set on the
 * key's revision, so two concurrent applies cannot both get the same version). An invalid set is
 * refused with every issue and nothing is written.
 */
export const applyRules = async (
  kv: Kv, source: string, origin: string, schema: DeviceSchema, now: number, limits: RuleLimits = defaultRuleLimits,
): Promise<RulesRecord> => {
  const checked = compileRules(source, origin, schema, limits)
  if (!checked.ok) throw new RulesRejected({ issues: checked.issues })
  for (let attempt = 0; attempt < 5; attempt++) {
    const last = await kv.get(rulesKey)
    const prev = last ? decodeRecord(last) : undefined
    const record: RulesRecord = { version: (prev?.version ?? 0) + 1, source, checksum: checked.plan.checksum, appliedAt: now, origin }
    const data = JSON.stringify(record)
    try {
      if (!last || last.operation !== "PUT") await kv.create(rulesKey, data)
      else await kv.update(rulesKey, data, last.revision)
      return record
    } catch (cause) {
      if (attempt === 4) throw new RulesStoreError({ message: `could not store rules version: ${(cause as Error).message}`, cause })
    }
  }
  throw new RulesStoreError({ message: "could not store rules version" })
}

/** Every stored version still in the bucket's history, oldest first. */
export const rulesHistory = async (kv: HistoryKv): Promise<RulesRecord[]> => {
  const out: RulesRecord[] = []
  for (const e of await kv.history(rulesKey)) {
    const r = decodeRecord(e)
    if (r) out.push(r)
  }
  return out
}

/** Re-applies an older version as a new version (validated again against the current schema). */
export const rollbackRules = async (kv: HistoryKv, version: number, schema: DeviceSchema, now: number, limits: RuleLimits = defaultRuleLimits): Promise<RulesRecord> => {
  const old = (await rulesHistory(kv)).find((r) => r.version === version)
  if (!old) throw new RulesStoreError({ message: `version ${version} is not in the ${rulesBucket} history (it keeps the last ${historyDepth})` })
  return applyRules(kv, old.source, `rollback of v${version}`, schema, now, limits)
}

/** Counters of a rules watcher. */
export interface RulesWatchMetrics {
  applied: number
  /** Entries that failed to decode or compile; the running set stayed. */
  invalid: number
}

/** A running watcher. */
export interface RulesWatch {
  readonly metrics: RulesWatchMetrics
  stop(): Promise<void>
}

/**
 * Watches the rules key (current value first, then updates) and calls `onValid` with each new
 * version that compiles against `schema` within `limits`. Invalid entries (not a record, not
 * compiling, over the limits, or failing in `onValid`) are counted and reported to `onInvalid` and
 * otherwise ignored: the running set stays and the watcher goes on with the next entry.
 */
export const watchRules = async (
  kv: Kv,
  schema: DeviceSchema,
  onValid: (plan: RuleSetPlan, record: RulesRecord) => void,
  onInvalid: (reason: string, issues: ReadonlyArray<RuleIssue>) => void = () => {},
  limits: RuleLimits = defaultRuleLimits,
): Promise<RulesWatch> => {
  const metrics: RulesWatchMetrics = { applied: 0, invalid: 0 }
  const it = await kv.watch({ key: rulesKey })
  const one = (e: KvEntry) => {
    const r = decodeRecord(e)
    if (!r) { metrics.invalid++; onInvalid(`revision ${e.revision}: not a rules record`, []); return }
    const c = compileRules(r.source, `${rulesBucket} v${r.version}`, schema, limits)
    if (!c.ok) { metrics.invalid++; onInvalid(`version ${r.version} does not compile`, c.issues); return }
    metrics.applied++
    onValid(c.plan, r)
  }
  const done = (async () => {
    for await (const e of it) {
      if (e.operation !== "PUT") continue
      try {
        one(e)
      } catch (cause) {
        metrics.invalid++
        onInvalid(`revision ${e.revision}: ${(cause as Error)?.message ?? String(cause)}`, [])
      }
    }
  })()
  return {
    metrics,
    async stop() {
      it.stop()
      await done
    },
  }
}
