import { loadDeviceSchema, type DeviceSchema } from "../../config/device-schema.ts"
import { compileRules, formatIssue, type RuleSetPlan } from "../../config/rules/index.ts"
import type { ActorContext } from "../../runtime/actor-kind.ts"
import type { AlertTransition } from "../../runtime/alert.ts"
import { BatchBuilder } from "../../runtime/batch.ts"
import { makeDeviceKind, type DeviceKind } from "./behaviour.ts"
import { RuleSetHolder } from "./holder.ts"
import type { DeviceState } from "./state.ts"

/** Test helpers for the device actor: a recording ActorContext and a reading driver. Not for production. */
export const busSchema: DeviceSchema = loadDeviceSchema()

/** Compiles rules source or fails the test with the positioned issues. */
export const compileOrFail = (source: string, schema = busSchema): RuleSetPlan => {
  const r = compileRules(source, "test.rules.yaml", schema)
  if (!r.ok) throw new TypeError(r.issues.map(formatIssue).join("\n"))
  return r.plan
}

/** An ActorContext that records what the actor publishes and stores; `now` is set by the test. */
export class RecordingContext implements ActorContext {
  now = 0
  shard = 0
  streamSeq = 0
  readonly published: Array<{ subject: string; payload: AlertTransition; msgId: string | undefined }> = []
  stored = 0
  publish(subject: string, payload: unknown, msgId?: string): void {
    this.published.push({ subject, payload: payload as AlertTransition, msgId })
  }
  store(): void {
    this.stored++
  }
  /** Transitions as `kind severity rule @seconds` lines (event time relative to `t0`). */
  lines(t0 = 0): string[] {
    return this.published.map(({ payload: t }) => `${t.kind} ${t.severity} ${t.rule} @${(t.at - t0) / 1000}`)
  }
}

/** One reading for {@link Device.read}: event time in seconds from t0 and named values (others NaN). */
export interface TestReading {
  readonly at: number
  readonly seq?: number
  readonly values?: Readonly<Record<string, number>>
}

/** A device actor under test: one kind, one state, one recording context. Time is event time from t0 = 0 plus 1.7e12. */
export class Device {
  static readonly t0 = 1_700_000_000_000
  readonly ctx = new RecordingContext()
  readonly holder: RuleSetHolder
  readonly kind: DeviceKind
  state: DeviceState
  /** Last seq handed out by {@link read}. */
  seq = 0
  private readonly base: Float64Array

  constructor(source: string | RuleSetPlan, readonly id = "bus-1", base: Readonly<Record<string, number>> = {}) {
    this.holder = new RuleSetHolder(typeof source === "string" ? compileOrFail(source) : source, 1)
    this.kind = makeDeviceKind(busSchema, this.holder)
    this.ctx.now = Device.t0
    this.state = this.kind.create(id, this.ctx)
    this.base = new Float64Array(busSchema.fields.length).fill(NaN)
    for (const [k, x] of Object.entries(base)) this.base[busSchema.byName.get(k)!.index] = x
  }

  /** Feeds readings; processing time follows event time (ctx.now = t0 + at) unless `lagMs` is given. */
  read(readings: ReadonlyArray<TestReading>, lagMs = 0): this {
    const b = new BatchBuilder(busSchema.fields.length, 1)
    for (const r of readings) {
      const row = Float64Array.from(this.base)
      for (const [k, x] of Object.entries(r.values ?? {})) {
        const f = busSchema.byName.get(k)
        if (!f) throw new TypeError(`no field ${k}`)
        row[f.index] = x
      }
      b.push(this.id, r.seq ?? ++this.seq, Device.t0 + r.at * 1000, row)
    }
    const batch = b.take(Device.t0)
    for (let i = 0; i < batch.ids.length; i++) {
      this.ctx.now = Math.max(this.ctx.now, batch.ts[i]! + lagMs)
      this.kind.onReading(this.state, batch, i, this.ctx)
    }
    return this
  }

  /** Readings every `stepS` seconds from `from` to `to` (inclusive) with the given values. */
  series(from: number, to: number, stepS: number, values: Readonly<Record<string, number>> | ((at: number) => Readonly<Record<string, number>>)): this {
    const rs: TestReading[] = []
    for (let k = 0; from + k * stepS <= to + 1e-9; k++) {
      const at = from + k * stepS
      rs.push({ at, values: typeof values === "function" ? values(at) : values })
    }
    return this.read(rs)
  }

  /** Processing-time ticks every second until `untilS` (seconds after t0). */
  tickUntil(untilS: number): this {
    while (this.ctx.now < Device.t0 + untilS * 1000) {
      this.ctx.now = Math.min(this.ctx.now + 1000, Device.t0 + untilS * 1000)
      this.kind.onTick!(this.state, this.ctx)
    }
    return this
  }

  lines(): string[] {
    return this.ctx.lines(Device.t0)
  }
}
