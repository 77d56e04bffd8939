import type { AlertTransition, Severity } from "../../runtime/alert.ts"
import { isWireDecodeError, NotifyMarksRecord, type WireDecodeError } from "../../runtime/wire.ts"

/**
 * The notifier's pure core: which channels a transition goes to and whether it is sent on its
 * own, folded into a digest, or held back (throttle, frequency cap, routing). No IO and no wall
 * clock: throttle, caps and digest windows run on the transition's event time (`at`), so the same
 * stream in the same order gives the same decisions on every node; `now` (an injected clock) only
 * ages out remembered decisions. The IO shell (notifier.ts) persists {@link NotifyState} so a node
 * that takes over decides exactly as the one that died would have.
 */

/** A delivery channel's routing filters (config `notify.channels.<name>`). */
export interface Route {
  readonly name: string
  /** Empty: every severity. */
  readonly severities: ReadonlyArray<Severity>
  /** Empty: every device; else the device must be in one of these rule-pack groups. */
  readonly groups: ReadonlyArray<string>
}

/** A frequency cap: at most `max` messages per `windowMs` of event time. */
export interface Cap {
  readonly max: number
  readonly windowMs: number
}

/** Policy from config `notify`. */
export interface NotifyPolicy {
  readonly routes: ReadonlyMap<string, Route>
  /** Per channel, more than `digestThreshold` messages in one window of `digestWindowMs` go out as one digest. */
  readonly digestWindowMs: number
  readonly digestThreshold: number
  /** Per rule and channel. */
  readonly cap: Cap
  readonly capByRule: Readonly<Record<string, Cap>>
  /** How long a decision is remembered (wall time) so a redelivered transition gets the same one. */
  readonly rememberMs: number
}

/** What the rule set says about a transition's rule and device (undefined: rule no longer in the set). */
export interface RuleFacts {
  readonly throttleMs: number
  readonly groups: ReadonlyArray<string>
}

/** Why a channel did not get a transition. */
export type HeldReason = "unknown_channel" | "filtered" | "throttled" | "capped" | "clear_not_notified"

/** One channel's decision for one transition. */
export type Decision =
  | { readonly channel: string; readonly action: "send"; readonly key: string }
  | { readonly channel: string; readonly action: "digest"; readonly key: string }
  | { readonly channel: string; readonly action: "held"; readonly reason: HeldReason }

/** Mutable state of the core (plain data, see {@link encodeState}). */
export interface NotifyState {
  /** `rule|device|channel` → event time of the last message sent. */
  readonly lastSent: Map<string, number>
  /** `alertId|channel` → event time: alerts whose raise/escalation went out, so their clear goes out too. */
  readonly notified: Map<string, number>
  /** `rule|channel|bucket` → messages in that cap window. */
  readonly capCount: Map<string, number>
  /** `channel|bucket` → messages sent on their own in that digest window. */
  readonly windowCount: Map<string, number>
  /** `channel|bucket` → current digest part (a part already flushed is closed; late members start the next). */
  readonly digestPart: Map<string, { part: number; flushed: boolean }>
  /** transition id → decisions and the wall time they were made. */
  readonly decided: Map<string, { readonly at: number; readonly decisions: ReadonlyArray<Decision> }>
  /** Largest event time seen: the horizon for pruning. */
  watermark: number
}

/** An empty state. */
export const emptyState = (): NotifyState => ({
  lastSent: new Map(), notified: new Map(), capCount: new Map(), windowCount: new Map(), digestPart: new Map(), decided: new Map(), watermark: 0,
})

/**
 * The idempotency key of one delivery: the transition's deterministic id plus the channel, so a
 * redelivery after a failover carries the same key and a receiver can drop it.
 */
export const deliveryKey = (transitionId: string, channel: string): string => `${transitionId}@${channel}`

/** The idempotency key (and id) of digest part `part` of `channel`'s window `bucket`. */
export const digestKey = (channel: string, bucket: number, part: number): string => `digest:${channel}:${bucket}:${part}@${channel}`

const capOf = (p: NotifyPolicy, rule: string): Cap => p.capByRule[rule] ?? p.cap

/**
 * Decides every channel of `t` (its rule's `channels`), updating `s`. A transition decided before
 * (a redelivery) gets its remembered decisions and changes nothing.
 *
 * - raised: held while the rule × device × channel throttle runs (the rule's `throttle`, event
 *   time) and beyond the rule × channel frequency cap;
 * - escalated: always delivered, as an escalation (neither throttle nor cap hold it back);
 * - cleared: delivered where the alert's raise or escalation was;
 * - past `digestThreshold` messages in a channel's digest window, the rest join the window's digest.
 */
export const decide = (s: NotifyState, t: AlertTransition, facts: RuleFacts | undefined, p: NotifyPolicy, now: number): ReadonlyArray<Decision> => {
  const known = s.decided.get(t.id)
  if (known) return known.decisions
  if (t.at > s.watermark) s.watermark = t.at
  const out: Decision[] = []
  for (const channel of new Set(t.channels)) {
    const route = p.routes.get(channel)
    const notifiedKey = `${t.alertId}|${channel}`
    if (!route) {
      out.push({ channel, action: "held", reason: "unknown_channel" })
      continue
    }
    if (t.kind === "cleared") {
      if (!s.notified.has(notifiedKey)) {
        out.push({ channel, action: "held", reason: "clear_not_notified" })
        continue
      }
      s.notified.delete(notifiedKey)
    } else {
      if (route.severities.length > 0 && !route.severities.includes(t.severity)) {
        out.push({ channel, action: "held", reason: "filtered" })
        continue
      }
      if (route.groups.length > 0 && !(facts?.groups ?? []).some((g) => route.groups.includes(g))) {
        out.push({ channel, action: "held", reason: "filtered" })
        continue
      }
      if (t.kind === "raised") {
        const tk = `${t.rule}|${t.device}|${channel}`
        const last = s.lastSent.get(tk)
        if (last !== undefined && facts && Math.abs(t.at - last) < facts.throttleMs) {
          out.push({ channel, action: "held", reason: "throttled" })
          continue
        }
        const cap = capOf(p, t.rule)
        const ck = `${t.rule}|${channel}|${Math.floor(t.at / cap.windowMs)}`
        const n = s.capCount.get(ck) ?? 0
        if (n >= cap.max) {
          out.push({ channel, action: "held", reason: "capped" })
          continue
        }
        s.capCount.set(ck, n + 1)
        s.lastSent.set(tk, Math.max(t.at, last ?? t.at))
      }
      s.notified.set(notifiedKey, t.at)
    }
    const bucket = Math.floor(t.at / p.digestWindowMs)
    const wk = `${channel}|${bucket}`
    const sent = s.windowCount.get(wk) ?? 0
    if (sent < p.digestThreshold) {
      s.windowCount.set(wk, sent + 1)
      out.push({ channel, action: "send", key: deliveryKey(t.id, channel) })
      continue
    }
    let part = s.digestPart.get(wk)
    if (!part || part.flushed) s.digestPart.set(wk, (part = { part: (part?.part ?? 0) + 1, flushed: false }))
    out.push({ channel, action: "digest", key: digestKey(channel, bucket, part.part) })
  }
  s.decided.set(t.id, { at: now, decisions: out })
  return out
}

/** Marks a digest part as sent: later members of the same window start the next part. */
export const digestFlushed = (s: NotifyState, key: string): void => {
  const m = /^digest:(.+):(-?\d+):(\d+)@/.exec(key)
  if (!m) return
  const wk = `${m[1]}|${m[2]}`
  const cur = s.digestPart.get(wk)
  if (cur && cur.part === Number(m[3])) cur.flushed = true
}

/** Forgets a transition's decisions once its stream message is acknowledged (it will not come back). */
export const forget = (s: NotifyState, transitionId: string): void => {
  s.decided.delete(transitionId)
}

/**
 * Forgets what can no longer matter: decisions older than `rememberMs` (wall time), throttle
 * marks older than `maxThrottleMs` before the watermark, cap and digest windows that ended,
 * and notified alerts older than `openAlertMs` (an alert open that long gets no clear message).
 */
export const prune = (s: NotifyState, p: NotifyPolicy, now: number, maxThrottleMs: number, openAlertMs = 7 * 86_400_000): void => {
  for (const [k, v] of s.decided) if (now - v.at > p.rememberMs) s.decided.delete(k)
  for (const [k, at] of s.lastSent) if (s.watermark - at > maxThrottleMs) s.lastSent.delete(k)
  for (const [k, at] of s.notified) if (s.watermark - at > openAlertMs) s.notified.delete(k)
  for (const k of s.capCount.keys()) {
    const [rule, , b] = k.split("|")
    const cap = capOf(p, rule!)
    if (Number(b) < Math.floor(s.watermark / cap.windowMs) - 1) s.capCount.delete(k)
  }
  const current = Math.floor(s.watermark / p.digestWindowMs)
  for (const k of s.windowCount.keys()) if (Number(k.slice(k.lastIndexOf("|") + 1)) < current - 1) s.windowCount.delete(k)
  for (const [k, v] of s.digestPart) if (v.flushed && Number(k.slice(k.lastIndexOf("|") + 1)) < current - 1) s.digestPart.delete(k)
}

/** Encodes the state as JSON (for the KV bucket). */
export const encodeState = (s: NotifyState): string => NotifyMarksRecord.toJson({
  lastSent: [...s.lastSent], notified: [...s.notified], capCount: [...s.capCount], windowCount: [...s.windowCount],
  digestPart: [...s.digestPart], decided: [...s.decided], watermark: s.watermark,
})

/**
 * Encodes the state in at most `maxBytes` (a KV value must fit in one NATS message): when it is
 * larger, the oldest throttle marks are left out of the encoded copy until it fits. The running
 * state keeps them; a node taking over from this copy may send one message that the throttle would
 * have held. Returns the JSON and how many marks were left out.
 */
export const encodeStateWithin = (s: NotifyState, maxBytes: number): { json: string; trimmed: number } => {
  const json = encodeState(s)
  if (json.length <= maxBytes) return { json, trimmed: 0 }
  const marks = [...s.lastSent].sort((a, b) => b[1] - a[1])
  let keep = Math.floor(marks.length * Math.max(0, maxBytes / json.length - 0.1))
  for (;;) {
    const copy: NotifyState = { ...s, lastSent: new Map(marks.slice(0, keep)) }
    const out = encodeState(copy)
    if (out.length <= maxBytes || keep === 0) return { json: out, trimmed: marks.length - keep }
    keep = Math.floor(keep / 2)
  }
}

/** Decodes {@link encodeState}'s output; anything malformed gives undefined (`onMalformed` hears why). */
export const decodeState = (json: string, onMalformed?: (e: WireDecodeError) => void): NotifyState | undefined => {
  try {
    const v = NotifyMarksRecord.fromJson(json)
    return {
      lastSent: new Map(v.lastSent), notified: new Map(v.notified), capCount: new Map(v.capCount), windowCount: new Map(v.windowCount),
      digestPart: new Map(v.digestPart), decided: new Map(v.decided), watermark: v.watermark ?? 0,
    }
  } catch (e) {
    if (!isWireDecodeError(e)) throw e
    onMalformed?.(e)
    return undefined
  }
}
