/** Edit distance (Levenshtein), for "did you mean" hints. */
export const editDistance = (a: string, b: string): number => {
  const prev = new Array<number>(b.length + 1)
  for (let j = 0; j <= b.length; j++) prev[j] = j
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = up
    }
  }
  return prev[b.length]!
}

/** The closest candidate to `name` (distance ≤ max(2, len/3), or sharing a prefix/suffix), as ` (did you mean "x"?)`. */
export const didYouMean = (name: string, candidates: Iterable<string>): string => {
  let best: string | undefined
  let bestD = Infinity
  for (const c of candidates) {
    const d = c.startsWith(name) || c.endsWith(name) || name.startsWith(c) ? Math.min(editDistance(name, c), 2) : editDistance(name, c)
    if (d < bestD) [best, bestD] = [c, d]
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean "${best}"?)` : ""
}
