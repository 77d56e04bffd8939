import { alertSubject, type AlertTransition } from "./alert.ts"

/** Stream sequences `from..to` expired before a shard read them. */
export interface StreamGap {
  readonly from: number
  readonly to: number
  readonly count: number
}

/**
 * Were stream messages after `processedSeq` removed (max age or max bytes) before the shard read
 * them? The range is in stream sequences of all shards, so it bounds this shard's loss from above.
 */
export const streamGap = (processedSeq: number, firstSeq: number): StreamGap | undefined => {
  if (processedSeq === 0) return undefined
  const from = processedSeq + 1
  if (firstSeq <= from) return undefined
  return { from, to: firstSeq - 1, count: firstSeq - from }
}

/** The critical alert that says so (its id is the gap's start, so a replay raises it once). */
export const gapAlert = (shard: number, stream: string, g: StreamGap, at: number): { subject: string; transition: AlertTransition } => {
  const device = `akis-shard-${shard}`
  const alertId = `${device}:stream_gap:${g.from}`
  const t: AlertTransition = {
    id: `${alertId}:raised:critical`, alertId, device, rule: "stream_gap", kind: "raised", severity: "critical", at, seq: 0,
    message: `stream sequences ${g.from}..${g.to} (${g.count} messages of all shards) expired from ${stream} before shard ${shard} read them; its readings among them are lost`,
    values: { fromSeq: g.from, toSeq: g.to, count: g.count }, channels: [], ruleVersion: 0, recvAt: at,
  }
  return { subject: alertSubject(t), transition: t }
}
