import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { defaultRulesPath } from "../../config/rules/index.ts"
import { checkpointCodec } from "../../runtime/checkpoints.ts"
import { checkpointAt, deviceId, runUntil, scenario } from "./fixtures/checkpoint-scenario.ts"
import { keyedSnapshot } from "./state.ts"
import { compileOrFail, Device } from "./testing.ts"

/** Written by the code before the engine moved (config/rules/windows.ts): see checkpoint-scenario.ts. */
const fixture = JSON.parse(readFileSync(join(import.meta.dir, "fixtures", "checkpoint-v2.json"), "utf8")) as {
  now: number
  seq: number
  snapshot: string
  linesBefore: string[]
  linesAfter: string[]
  query: unknown
}

describe("checkpoints written by earlier code", () => {
  test("a device checkpointed by the code before the engine moved restores and goes on exactly as that code did", () => {
    const d = new Device(compileOrFail(readFileSync(defaultRulesPath, "utf8")), deviceId)
    d.state = d.kind.restore(deviceId, checkpointCodec.unpack(Buffer.from(fixture.snapshot, "base64")), d.ctx)
    d.ctx.now = fixture.now
    d.seq = fixture.seq
    // the checkpoint holds an open alert (speeding, cleared after it) and full windows
    expect(fixture.linesAfter[0]).toBe("cleared warning speeding @204")
    d.series(checkpointAt + 0.5, runUntil, 0.5, scenario).tickUntil(runUntil + 120)
    expect(d.lines()).toEqual(fixture.linesAfter)
    expect(JSON.parse(JSON.stringify(d.kind.query(d.state, {})))).toEqual(fixture.query)
  })

  test("today's code, run from the start, produces what the earlier code did, and its snapshot goes on as the earlier one", () => {
    const d = new Device(compileOrFail(readFileSync(defaultRulesPath, "utf8")), deviceId).series(0, checkpointAt, 0.5, scenario)
    expect(d.lines()).toEqual(fixture.linesBefore)
    // The same state: its keyed (version 2) form is the earlier code's snapshot, byte for byte.
    expect(Buffer.from(checkpointCodec.pack(keyedSnapshot(d.state))).toString("base64")).toBe(fixture.snapshot)
    // Today's snapshot (version 3), restored, goes on exactly as the earlier code's.
    const e = new Device(compileOrFail(readFileSync(defaultRulesPath, "utf8")), deviceId)
    e.state = e.kind.restore(deviceId, checkpointCodec.unpack(checkpointCodec.pack(d.kind.snapshot(d.state))), e.ctx)
    e.ctx.now = fixture.now
    e.seq = fixture.seq
    e.series(checkpointAt + 0.5, runUntil, 0.5, scenario).tickUntil(runUntil + 120)
    expect(e.lines()).toEqual(fixture.linesAfter)
    expect(JSON.parse(JSON.stringify(e.kind.query(e.state, {})))).toEqual(fixture.query)
  })
})
