import { describe, expect, test } from "bun:test"
import { checkpointCodec } from "./checkpoints.ts"
import {
  ActorReply, ActorRequest, AlertNoteMessage, AlertTransitionMessage, AuditRecordMessage, CheckpointEnvelope, DrainAnswer, ExplanationMessage,
  HistoryReply, HistoryRequestMessage, LeaseRecord, logFirstOfEach, MemberRecord, NodeStats, NotifierLeaseRecord, NotifyMarksRecord, orUndefined,
  StatsRequest, TokenRecordMessage, WireDecodeError,
} from "./wire.ts"

/** Runs `f` and returns the WireDecodeError it throws (fails the test if it throws anything else or nothing). */
const failure = (f: () => unknown): WireDecodeError => {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(WireDecodeError)
    return e as WireDecodeError
  }
  throw new Error("expected a WireDecodeError, nothing was thrown")
}

const transition = {
  id: "bus-1:overheat:7:raised:warning", alertId: "bus-1:overheat:7", device: "bus-1", rule: "overheat", kind: "raised" as const,
  severity: "warning" as const, at: 1_700_000_000_000, seq: 7, message: "coolant avg 10s = 112 > 105", values: { coolant: 112 },
  channels: ["email"], ruleVersion: 3, recvAt: 1_700_000_000_010,
}
const explanation = {
  kind: "explanation" as const, transitionId: transition.id, alertId: transition.alertId, device: "bus-1", rule: "overheat", at: transition.at,
  model: "m", text: "the coolant is hot", createdAt: 1, latencyMs: 2, cached: false,
}
const member = { id: "n1", roles: ["worker"], version: "0.1.0", pid: 1, host: "h", startedAt: 1, draining: false, hb: 3, at: 4 }
const token = { id: "0a1b2c3d", name: "ci", role: "operator" as const, hash: "ab", createdAt: 1, expiresAt: null, revokedAt: null, createdBy: "cli" }

/**
 * Every JSON wire message: a value that round-trips, a broken copy, and the path the error must name.
 * Each codec is called through a closure so the table holds messages of different types.
 */
const cases: ReadonlyArray<{
  name: string
  roundTrip: () => { sent: unknown; back: unknown }
  bad: () => unknown
  path: string
}> = [
  { name: "akis.ctl.stats request", roundTrip: () => rt(StatsRequest, { gc: true }), bad: () => StatsRequest.fromJson(`{"gc":"yes"}`), path: "gc" },
  {
    name: "akis.ctl.stats answer",
    roundTrip: () => rt(NodeStats, { node: "n1", draining: false, memory: { rss: 1, heapUsed: 2 }, shards: [{ shard: 0, pendingBatches: null }] }),
    bad: () => NodeStats.fromJson(`{"node":"n1","draining":false,"memory":{"rss":1,"heapUsed":2},"shards":[{"shard":"zero"}]}`),
    path: "shards.0.shard",
  },
  { name: "akis.ctl.drain answer", roundTrip: () => rt(DrainAnswer, { ok: true, node: "n1", shards: 4 }), bad: () => DrainAnswer.fromJson(`{"ok":true,"node":"n1"}`), path: "shards" },
  { name: "akis.rpc request", roundTrip: () => rt(ActorRequest, { kind: "device", id: "bus-1", request: { view: "windows" } }), bad: () => ActorRequest.fromJson(`{"kind":7,"id":"x"}`), path: "kind" },
  { name: "akis.rpc answer", roundTrip: () => rt(ActorReply, { ok: false, error: "not_found" }), bad: () => ActorReply.fromJson(`{"ok":false}`), path: "error" },
  {
    name: "akis.history request",
    roundTrip: () => rt(HistoryRequestMessage, { op: "fleet", query: { field: "speed", from: 1, to: 2, by: "device" } }),
    bad: () => HistoryRequestMessage.fromJson(`{"op":"readings","query":{"device":"d","from":"yesterday","to":2}}`),
    path: "query.from",
  },
  { name: "akis.history answer", roundTrip: () => rt(HistoryReply, { ok: false, code: "input", message: "m", field: "from" }), bad: () => HistoryReply.fromJson(`{"ok":false,"code":"nope","message":"m"}`), path: "code" },
  {
    name: "alert transition",
    roundTrip: () => ({ sent: transition, back: AlertTransitionMessage.fromJson(AlertTransitionMessage.toBytes(transition)) }),
    bad: () => AlertTransitionMessage.fromJson(JSON.stringify({ ...transition, values: { coolant: "hot" } })),
    path: "values.coolant",
  },
  {
    name: "explanation annotation",
    roundTrip: () => ({ sent: explanation, back: ExplanationMessage.fromJson(ExplanationMessage.toJson(explanation)) }),
    bad: () => ExplanationMessage.fromJson(JSON.stringify({ ...explanation, text: undefined })),
    path: "text",
  },
  { name: "akis_members heartbeat", roundTrip: () => rt(MemberRecord, member), bad: () => MemberRecord.fromJson(JSON.stringify({ ...member, roles: "worker" })), path: "roles" },
  { name: "akis_shards lease", roundTrip: () => rt(LeaseRecord, { owner: "n1", epoch: 2, at: 3 }), bad: () => LeaseRecord.fromJson(`{"owner":"n1","at":3}`), path: "epoch" },
  { name: "akis_tokens token", roundTrip: () => rt(TokenRecordMessage, token), bad: () => TokenRecordMessage.fromJson(JSON.stringify({ ...token, role: "root" })), path: "role" },
  {
    name: "akis_audit record",
    roundTrip: () => rt(AuditRecordMessage, { at: 1, actor: "cli:me", role: "cli", action: "rules.apply", target: "v3", detail: { n: 1 } }),
    bad: () => AuditRecordMessage.fromJson(`{"at":1,"actor":"a","role":"cli","action":"x"}`),
    path: "target",
  },
  {
    name: "akis_audit alert note",
    roundTrip: () => rt(AlertNoteMessage, { alertId: "a", at: 1, by: "ops", kind: "ack", text: "" }),
    bad: () => AlertNoteMessage.fromJson(`{"alertId":"a","at":1,"by":"ops","kind":"like","text":""}`),
    path: "kind",
  },
  { name: "notifier lease", roundTrip: () => rt(NotifierLeaseRecord, { holder: "n1", at: 5 }), bad: () => NotifierLeaseRecord.fromJson(`{"holder":null,"at":5}`), path: "holder" },
  {
    name: "notifier state",
    roundTrip: () => rt(NotifyMarksRecord, {
      lastSent: [["r|d|email", 5]], notified: [], capCount: [], windowCount: [], digestPart: [["email|1", { part: 1, flushed: false }]],
      decided: [["t1", { at: 1, decisions: [{ channel: "email", action: "held", reason: "throttled" }] }]], watermark: 9,
    }),
    bad: () => NotifyMarksRecord.fromJson(`{"lastSent":[["r|d|email","soon"]]}`),
    path: "lastSent.0.1",
  },
]

function rt<T>(m: { fromJson(d: Uint8Array | string): T; toBytes(v: T): Uint8Array }, v: T) {
  return { sent: v, back: m.fromJson(m.toBytes(v)) }
}

describe("wire messages", () => {
  test.each(cases.map((c) => [c.name, c] as const))("%s round-trips and a broken one names its path", (name, c) => {
    const { sent, back } = c.roundTrip()
    expect(back).toEqual(sent)
    const e = failure(c.bad)
    expect(e.wire).toBe(name)
    expect(e.path).toBe(c.path)
    expect(e.message).toContain(`${name}: at ${c.path}: `)
  })

  test("bad JSON is a WireDecodeError at the root, naming the message", () => {
    const e = failure(() => LeaseRecord.fromJson("{not json"))
    expect(e).toMatchObject({ wire: "akis_shards lease", path: "" })
    expect(e.expected).toStartWith("JSON")
  })

  test("a message of several shapes names the field that picks the shape when it picks none", () => {
    expect(failure(() => HistoryRequestMessage.fromJson(`{"op":"everything"}`))).toMatchObject({
      wire: "akis.history request", path: "op", expected: `Expected one of "summary", "readings", "fleet", "alerts"`,
    })
    expect(failure(() => ActorReply.fromJson(`{"ok":"yes"}`))).toMatchObject({ path: "ok", expected: `Expected one of "true", "false"` })
    expect(failure(() => ActorReply.fromJson(`[true]`))).toMatchObject({ path: "", expected: "Expected object" })
    expect(HistoryRequestMessage.fromJson(`{"op":"summary"}`)).toEqual({ op: "summary" })
  })

  test("a transition read back gets the optional fields' defaults and loses unknown keys", () => {
    const { seq: _s, message: _m, values: _v, channels: _c, ruleVersion: _r, recvAt: _a, ...bare } = transition
    expect(AlertTransitionMessage.decode({ ...bare, extra: 1 })).toEqual({ ...bare, seq: 0, message: "", values: {}, channels: [], ruleVersion: 0, recvAt: 0 })
  })

  test("orUndefined turns a decode failure into undefined and lets other errors through", () => {
    expect(orUndefined(() => LeaseRecord.fromJson("[]"))).toBeUndefined()
    expect(() => orUndefined(() => { throw new RangeError("other") })).toThrow(RangeError)
  })

  test("logFirstOfEach logs the first malformed message of each kind only", () => {
    const lines: string[] = []
    const report = logFirstOfEach((kind, reason) => lines.push(`${kind}: ${reason}`))
    for (let i = 0; i < 3; i++) report("alert transition", `bad ${i}`)
    report("explanation annotation", "bad")
    expect(lines).toEqual(["alert transition: bad 0", "explanation annotation: bad"])
  })
})

describe("checkpoint envelope", () => {
  const cp = { shard: 3, streamSeq: 40, epoch: 2, owner: "n1", at: 5, actors: [["bus-1", { n: new Float64Array([1, 2]) }]] as Array<[string, unknown]>, timers: [["bus-1", 9]] as Array<[string, number]> }
  const pointer = { shard: 3, streamSeq: 40, epoch: 2, owner: "n1", at: 5, object: { name: "shard.3.2.40.x", size: 10, digest: "SHA-256=abc" } }
  const unpacked = (v: unknown) => checkpointCodec.unpack(checkpointCodec.pack(v))

  const packed = { shard: 3, streamSeq: 40, epoch: 2, owner: "n1", at: 5, packed: [["bus-1", new Uint8Array([0x91, 0x01])]] as Array<[string, Uint8Array]>, timers: cp.timers }

  test("an inline checkpoint and a pointer round-trip through msgpack", () => {
    expect(CheckpointEnvelope.decode(unpacked(packed))).toEqual(packed)
    expect(CheckpointEnvelope.decodeBody(unpacked(packed))).toEqual(packed)
    expect(CheckpointEnvelope.decode(unpacked(cp))).toEqual(cp) // written before snapshots were kept packed
    expect(CheckpointEnvelope.decode(unpacked(pointer))).toEqual(pointer)
    expect(CheckpointEnvelope.decodeBody(unpacked(cp))).toEqual(cp)
  })

  test.each([
    ["an actor pair without an id", { ...cp, actors: [[7, {}]] }, "actors"],
    ["a packed snapshot that is not bytes", { ...packed, packed: [["bus-1", { n: 1 }]] }, "packed"],
    ["a body with neither packed nor unpacked actors", { shard: 3, streamSeq: 40, epoch: 2, owner: "n1", at: 5 }, "packed"],
    ["a timer that is not a time", { ...cp, timers: [["bus-1", "later"]] }, "timers"],
    ["an owner that is not text", { ...cp, owner: 1 }, "owner"],
    ["a pointer without a digest", { ...pointer, object: { name: "x", size: 1 } }, "object.digest"],
  ] as const)("%s is a WireDecodeError naming the field", (_what, value, path) => {
    const e = failure(() => CheckpointEnvelope.decode(unpacked(value)))
    expect(e.path).toBe(path)
    expect(e.wire).toStartWith("akis_snapshots checkpoint")
  })
})
