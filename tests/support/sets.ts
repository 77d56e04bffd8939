/**
 * Set comparisons for the end-to-end and fault tests and `ops bench e2e`: what was expected
 * (acked readings, expected alert transitions) against what was found (rows of a table, messages
 * of a stream), item by item, never as a difference of two counts. The key is a parameter, so a
 * reading's identity can be (device, seq) today and (device, boot, seq) tomorrow.
 */

/** What a comparison found, as keys (bounded lists for messages) and counts. */
export interface SetDiff {
  /** Expected keys not found at all. */
  readonly missing: number
  /** Expected keys found more than once (each such key counts once). */
  readonly duplicated: number
  /** Extra copies in all: found rows − distinct found keys. */
  readonly extraCopies: number
  /** Found keys that were not expected and not allowed. */
  readonly unexpected: number
  /** Up to 5 examples of each problem, for the failure message. */
  readonly examples: { readonly missing: string[]; readonly duplicated: string[]; readonly unexpected: string[] }
}

export interface CompareOptions<T> {
  /** Keys that may be found without being expected (e.g. sent but not acked), or a predicate. */
  readonly allowed?: ((key: string, item: T | undefined) => boolean) | undefined
}

/** Counts how often each key occurs. */
export const tally = <T>(items: Iterable<T>, key: (t: T) => string): Map<string, number> => {
  const m = new Map<string, number>()
  for (const t of items) {
    const k = key(t)
    m.set(k, (m.get(k) ?? 0) + 1)
  }
  return m
}

/**
 * Compares `expected` keys with `found` items: every expected key must be found exactly once;
 * a found key neither expected nor allowed is unexpected.
 */
export const compareSets = <T>(
  expected: Iterable<string>, found: Iterable<T>, key: (t: T) => string, o: CompareOptions<T> = {},
): SetDiff => {
  const want = new Set(expected)
  const firstOf = new Map<string, T>()
  const counts = new Map<string, number>()
  let rows = 0
  for (const t of found) {
    const k = key(t)
    rows++
    counts.set(k, (counts.get(k) ?? 0) + 1)
    if (!firstOf.has(k)) firstOf.set(k, t)
  }
  const ex = { missing: [] as string[], duplicated: [] as string[], unexpected: [] as string[] }
  const note = (list: string[], k: string) => void (list.length < 5 && list.push(k))
  let missing = 0
  let duplicated = 0
  let unexpected = 0
  for (const k of want) {
    const n = counts.get(k) ?? 0
    if (n === 0) {
      missing++
      note(ex.missing, k)
    } else if (n > 1) {
      duplicated++
      note(ex.duplicated, k)
    }
  }
  for (const [k, n] of counts) {
    if (want.has(k)) continue
    if (o.allowed?.(k, firstOf.get(k))) {
      if (n > 1) {
        duplicated++
        note(ex.duplicated, k)
      }
      continue
    }
    unexpected++
    note(ex.unexpected, k)
  }
  return { missing, duplicated, extraCopies: rows - counts.size, unexpected, examples: ex }
}

/** True when nothing is missing, duplicated or unexpected. */
export const setsMatch = (d: SetDiff): boolean => d.missing === 0 && d.duplicated === 0 && d.unexpected === 0

/** A one-line account of a diff for a failure message. */
export const describeDiff = (what: string, d: SetDiff): string =>
  `${what}: ${d.missing} missing ${JSON.stringify(d.examples.missing)}, ${d.duplicated} duplicated ${JSON.stringify(d.examples.duplicated)}, ` +
  `${d.unexpected} unexpected ${JSON.stringify(d.examples.unexpected)} (${d.extraCopies} extra copies)`

/** The key of one reading; a device that renumbers after a reboot would add its boot id here. */
export const readingKey = (device: string, seq: number | bigint | string): string => `${device}/${seq}`

/**
 * What one simulated device sent and had acknowledged: seqs `first..sentTo` were sent,
 * `first..ackedTo` acknowledged except `rejected` (refused by the gateway, final).
 */
export interface DeviceRange {
  readonly device: string
  readonly first: number
  readonly sent_to: number
  readonly acked_to: number
  readonly rejected: ReadonlyArray<number>
}

/** Every acknowledged reading's key. */
export function* ackedKeys(ranges: Iterable<DeviceRange>): Generator<string> {
  for (const r of ranges) {
    const no = new Set(r.rejected)
    for (let s = r.first; s <= r.acked_to; s++) if (!no.has(s)) yield readingKey(r.device, s)
  }
}

/** A predicate: the reading was sent (acked or not). Stored-but-unacked readings are allowed. */
export const wasSent = (ranges: Iterable<DeviceRange>) => {
  const by = new Map<string, DeviceRange>()
  for (const r of ranges) by.set(r.device, r)
  return (key: string): boolean => {
    const i = key.lastIndexOf("/")
    const r = by.get(key.slice(0, i))
    const s = Number(key.slice(i + 1))
    return r !== undefined && s >= r.first && s <= r.sent_to && !r.rejected.includes(s)
  }
}
