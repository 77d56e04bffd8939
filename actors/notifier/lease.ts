import type { Cancel, Clock } from "../../runtime/clock.ts"
import type { Kv } from "../../runtime/nats/ports.ts"
import { NotifierLeaseRecord } from "../../runtime/wire.ts"

/** Options of {@link startLease}. */
export interface LeaseOptions {
  readonly kv: Kv
  readonly key: string
  readonly holder: string
  readonly heartbeatMs: number
  /** A holder whose entry did not change for this long (observed here, not by clocks) is dead. */
  readonly suspicionMs: number
  readonly clock: Clock
  readonly onChange: (leader: boolean) => void
  readonly onError?: ((e: unknown) => void) | undefined
}

/** A running lease: exactly one live process at a time believes it holds it (fenced by KV revisions). */
export interface Lease {
  readonly held: boolean
  stop(): Promise<void>
}

/**
 * One active notifier at a time, the others standing by: the holder rewrites `key` every
 * heartbeat (compare-and-set on the revision); a standby that sees the revision unchanged for
 * `suspicionMs` takes the key over by compare-and-set. A single active consumer keeps throttles,
 * caps and digests in one place; a redelivery after a takeover is recognised by the delivery keys.
 */
export const startLease = (o: LeaseOptions): Lease => {
  let held = false
  let stopped = false
  let seen: { revision: number; since: number } | undefined
  const set = (v: boolean) => {
    if (v !== held) {
      held = v
      o.onChange(v)
    }
  }
  const value = () => NotifierLeaseRecord.toJson({ holder: o.holder, at: o.clock.now() })
  const beat = async () => {
    try {
      const e = await o.kv.get(o.key)
      if (!e || e.operation !== "PUT") {
        await (e ? o.kv.update(o.key, value(), e.revision) : o.kv.create(o.key, value()))
        return set(true)
      }
      const holder = (() => {
        try {
          return NotifierLeaseRecord.fromJson(e.value).holder
        } catch {
          return undefined // not a lease: held by nobody, taken over after suspicionMs like a silent holder
        }
      })()
      if (holder === o.holder) {
        await o.kv.update(o.key, value(), e.revision)
        return set(true)
      }
      set(false)
      if (!seen || seen.revision !== e.revision) seen = { revision: e.revision, since: o.clock.now() }
      else if (o.clock.now() - seen.since >= o.suspicionMs) {
        await o.kv.update(o.key, value(), e.revision)
        seen = undefined
        set(true)
      }
    } catch (e) {
      // Lost a race or NATS is away: not the holder until a beat succeeds.
      set(false)
      o.onError?.(e)
    }
  }
  let timer: Cancel | undefined
  let running: Promise<void> = Promise.resolve()
  const loop = () => {
    if (stopped) return
    running = beat().finally(() => {
      if (!stopped) timer = o.clock.after(o.heartbeatMs, loop)
    })
  }
  loop()
  return {
    get held() {
      return held
    },
    async stop() {
      stopped = true
      timer?.()
      await running
      if (held) {
        // Hand over at once: a standby takes a deleted key on its next beat.
        const e = await o.kv.get(o.key).catch(() => null)
        if (e && e.operation === "PUT") await o.kv.delete(o.key, { previousSeq: e.revision }).catch(() => {})
        set(false)
      }
    },
  }
}
