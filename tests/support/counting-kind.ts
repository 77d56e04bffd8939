import type { ActorKind } from "../../runtime/index.ts"

/** State of the test-only counting actor: how many readings it was handed, and their seq sum. */
export interface CountState {
  count: number
  seqSum: number
}

/**
 * An actor kind used only by tests: counts every reading it is handed (no dedup), so a reading
 * processed twice or lost shows up in the count. Exactly-once effect = count equals what was sent.
 * A device whose id starts with `poison-` makes it throw (the poison-message tests).
 */
export const countingKind: ActorKind<CountState> = {
  name: "counter",
  create: () => ({ count: 0, seqSum: 0 }),
  onReading(s, batch, i) {
    if (batch.ids[i]!.startsWith("poison-")) throw new Error(`cannot count ${batch.ids[i]}`)
    s.count++
    s.seqSum += batch.seqs[i]!
  },
  snapshot: (s) => [s.count, s.seqSum],
  restore: (_id, snap) => {
    const [count, seqSum] = snap as [number, number]
    return { count, seqSum }
  },
  query: (s) => ({ count: s.count, seqSum: s.seqSum }),
}
