import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import type { HistoryKv } from "../runtime/nats/ports.ts"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { testTopology } from "./support/topology.ts"
import { startNats, tempDir, waitFor, type NatsServer } from "./harness/index.ts"
import { loadDeviceSchema } from "../config/device-schema.ts"
import type { RuleSetPlan } from "../config/rules/plan.ts"
import { RulesRejected } from "../config/rules/errors.ts"
import { applyRules, currentRules, openRulesKv, rollbackRules, rulesHistory, rulesKey, watchRules, type RulesRecord } from "../ops/lib/rules-store.ts"

const schema = loadDeviceSchema()
const v1 = "rules:\n  fast:\n    when: speed_kmh > 80\n"
const v2 = "rules:\n  fast:\n    when: speed_kmh > 90\n"
const bad = "rules:\n  fast:\n    when: sped_kmh > 90\n"

let ns: NatsServer
let kv: HistoryKv
beforeAll(async () => {
  ns = await startNats()
  kv = await openRulesKv(await ns.connect(), testTopology)
})
afterAll(async () => { await ns.cleanup() })

describe("rules store (KV akis_rules)", () => {
  test("apply stores numbered versions; an invalid set is refused with positions and the active one stays", async () => {
    const a = await applyRules(kv, v1, "a.yaml", schema, 1000)
    expect(a).toMatchObject({ version: 1, origin: "a.yaml", appliedAt: 1000 })
    const err = await applyRules(kv, bad, "bad.yaml", schema, 2000).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RulesRejected)
    expect((err as RulesRejected).issues[0]).toMatchObject({ file: "bad.yaml", line: 3, col: 11 })
    expect((err as RulesRejected).issues[0]!.message).toContain(`did you mean "speed_kmh"`)
    expect((await currentRules(kv))?.version).toBe(1)
    const b = await applyRules(kv, v2, "b.yaml", schema, 3000)
    expect(b.version).toBe(2)
    expect((await rulesHistory(kv)).map((r) => r.version)).toEqual([1, 2])
  })

  test("rollback re-applies an old version as a new version", async () => {
    const r = await rollbackRules(kv, 1, schema, 4000)
    expect(r).toMatchObject({ version: 3, source: v1, origin: "rollback of v1" })
    expect(r.checksum).toBe((await rulesHistory(kv))[0]!.checksum)
    expect(await rollbackRules(kv, 99, schema, 5000).catch((e: { message: string }) => e.message)).toContain("not in the akis_rules history")
  })

  test("watchRules delivers the current and each new valid version, and counts invalid entries without applying them", async () => {
    const got: Array<[RuleSetPlan, RulesRecord]> = []
    const invalid: string[] = []
    const w = await watchRules(kv, schema, (set, rec) => got.push([set, rec]), (reason) => invalid.push(reason))
    await waitFor("current version", async () => got.length === 1)
    expect(got[0]![1].version).toBe(3)
    await kv.put(rulesKey, "not json")
    await kv.put(rulesKey, JSON.stringify({ version: 9, source: bad, checksum: "x", appliedAt: 1, origin: "hand" }))
    await applyRules(kv, v2, "c.yaml", schema, 6000)
    await waitFor("next valid version", async () => got.length === 2)
    expect(got[1]![1].version).toBe(10)
    expect(w.metrics).toEqual({ applied: 2, invalid: 2 })
    expect(invalid).toHaveLength(2)
    await w.stop()
  })

  test("ops rules apply / history / rollback / validate work from the command line", async () => {
    const dir = tempDir("akis-rules-cli-")
    const good = join(dir, "good.yaml")
    const wrong = join(dir, "wrong.yaml")
    writeFileSync(good, v2)
    writeFileSync(wrong, bad)
    const run = (...args: string[]) => {
      const p = Bun.spawnSync(["bun", "ops/cli.ts", "rules", ...args], {
        cwd: join(import.meta.dir, ".."), env: { ...process.env, AKIS_NATS__SERVERS: `[${ns.url}]` }, stdout: "pipe", stderr: "pipe",
      })
      return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() }
    }
    expect(run("validate", good).code).toBe(0)
    const v = run("validate", wrong)
    expect(v.code).not.toBe(0)
    expect(v.err).toContain(`${wrong}:3:11: unknown field "sped_kmh"`)
    const deep = join(dir, "deep.yaml")
    writeFileSync(deep, `rules:\n  deep:\n    when: ${"(".repeat(100)}speed_kmh > 1${")".repeat(100)}\n`)
    const d = run("validate", deep)
    expect(d.code).toBe(1)
    expect(d.err).toContain(`${deep}:3:75: expression nests deeper than 64 levels`)
    const applied = run("apply", good)
    expect(applied.code).toBe(0)
    expect(applied.out).toContain("applied v11")
    const refused = run("apply", wrong)
    expect(refused.code).not.toBe(0)
    expect(refused.err).toContain(`${wrong}:3:11:`)
    expect(run("rollback", "1").out).toContain("applied v12")
    const h = run("history")
    expect(h.out).toMatch(/\* v12 .*rollback of v1/)
  }, 30_000)

  test("a watcher survives a record that would overflow the parser and a handler that throws, and goes on", async () => {
    const got: number[] = []
    const invalid: string[] = []
    let throwOnce = true
    const w = await watchRules(kv, schema, (_set, rec) => {
      if (rec.origin === "explodes" && throwOnce) { throwOnce = false; throw new Error("swap failed") }
      got.push(rec.version)
    }, (reason) => invalid.push(reason))
    await waitFor("current version", async () => got.length === 1)
    // Written past applyRules, as any NATS client with write access could.
    const deep = `rules:\n  deep:\n    when: ${"(".repeat(50_000)}speed_kmh > 1${")".repeat(50_000)}\n`
    await kv.put(rulesKey, JSON.stringify({ version: 20, source: deep, checksum: "x", appliedAt: 1, origin: "hand" }))
    await kv.put(rulesKey, JSON.stringify({ version: 21, source: v1, checksum: "x", appliedAt: 1, origin: "explodes" }))
    await kv.put(rulesKey, JSON.stringify({ version: 22, source: v2, checksum: "x", appliedAt: 1, origin: "hand" }))
    await waitFor("the version after the bad ones", async () => got.includes(22))
    expect(invalid).toHaveLength(2)
    expect(invalid[0]).toBe("version 20 does not compile")
    expect(invalid[1]).toContain("swap failed")
    expect(w.metrics.invalid).toBe(2)
    await w.stop()
  })
})
