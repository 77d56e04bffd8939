import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import { capacity, placeShards } from "./placement.ts"

const name = fc.stringMatching(/^[a-z][a-z0-9-]{2,12}$/)
const workerSet = (minN: number, maxN: number) => fc.uniqueArray(name, { minLength: minN, maxLength: maxN })

const moved = (a: ReadonlyArray<string | undefined>, b: ReadonlyArray<string | undefined>) =>
  a.reduce((n, o, s) => n + (o !== b[s] ? 1 : 0), 0)

const loads = (owners: ReadonlyArray<string | undefined>) => {
  const m = new Map<string, number>()
  for (const o of owners) m.set(o!, (m.get(o!) ?? 0) + 1)
  return m
}

/** Moves a join cannot avoid: the joiner's fair share, or the excess the tighter cap forces off. */
const joinMinimum = (before: ReadonlyArray<string | undefined>, n: number, P: number) => {
  const forced = [...loads(before).values()].reduce((x, l) => x + Math.max(0, l - capacity(P, n + 1)), 0)
  return Math.max(Math.floor(P / (n + 1)), forced, 1)
}

const join = (workers: string[], joiner: string, P: number) => {
  const before = placeShards(workers, P)
  const after = placeShards([...workers, joiner], P)
  return { changed: moved(before, after), min: joinMinimum(before, workers.length, P), after }
}

const leave = (workers: string[], pick: number, P: number) => {
  const leaver = workers[pick % workers.length]!
  const before = placeShards(workers, P)
  const after = placeShards(workers.filter((w) => w !== leaver), P)
  return { changed: moved(before, after), own: before.filter((o) => o === leaver).length }
}

describe("placement", () => {
  test.each([64, 1024])("P=%d, N=1..32: every shard has a live owner and no worker holds more than ⌈1.25·P/N⌉", (P) => {
    fc.assert(
      fc.property(workerSet(1, 32), (workers) => {
        const owners = placeShards(workers, P)
        expect(owners.every((o) => o !== undefined && workers.includes(o))).toBe(true)
        expect(Math.max(...loads(owners).values())).toBeLessThanOrEqual(capacity(P, workers.length))
      }),
      { numRuns: P === 64 ? 300 : 60 },
    )
  })

  test("depends on the member set only, not on its order", () => {
    fc.assert(fc.property(workerSet(1, 16), (workers) => {
      expect(placeShards([...workers].reverse(), 64)).toEqual(placeShards(workers, 64))
    }))
  })

  // With at least ~8 shards per node (the regime to run in: P ≥ 8·N), moves stay within twice the minimum.
  test.each([[64, 8], [1024, 32]])("P=%d, N≤%d: a join moves at most twice the unavoidable minimum, nearly all to the joiner", (P, maxN) => {
    fc.assert(
      fc.property(workerSet(1, maxN - 1), name, (workers, joiner) => {
        fc.pre(!workers.includes(joiner))
        const { changed, min, after } = join(workers, joiner, P)
        expect(changed).toBeLessThanOrEqual(2 * min + 1)
        if (P === 1024) expect(after.filter((o) => o === joiner).length).toBeGreaterThanOrEqual(0.7 * changed)
      }),
      { numRuns: P === 64 ? 300 : 40 },
    )
  })

  test.each([[64, 8], [1024, 32]])("P=%d, N≤%d: a leave moves at most twice the larger of the leaver's shards and a fair share", (P, maxN) => {
    fc.assert(
      fc.property(workerSet(2, maxN), fc.nat(), (workers, pick) => {
        const { changed, own } = leave(workers, pick, P)
        // A leaver holding fewer than its fair share still raises the cap of everyone else, which
        // lets a few capped shards return to their first choice (found: 7 nodes, leaver with 3 of
        // 64, 8 moved). Bound by twice the larger of its shards and a fair share.
        expect(changed).toBeLessThanOrEqual(2 * Math.max(own, Math.floor(P / workers.length)) + 1)
      }),
      { numRuns: P === 64 ? 300 : 40 },
    )
  })

  // Below ~8 shards per node the hard cap forces cascades (documented in docs/decisions.md);
  // on average a join or leave still stays within twice the minimum.
  test("P=64, N=9..32: on average a join or a leave moves less than twice the minimum", () => {
    let joins = 0
    let leaves = 0
    const runs = 200
    fc.assert(
      fc.property(workerSet(9, 32), name, fc.nat(), (workers, joiner, pick) => {
        fc.pre(!workers.includes(joiner))
        const j = join(workers, joiner, 64)
        const l = leave(workers, pick, 64)
        joins += j.changed / j.min
        leaves += l.changed / Math.max(l.own, 1)
      }),
      { numRuns: runs, seed: 42 },
    )
    expect(joins / runs).toBeLessThan(2)
    expect(leaves / runs).toBeLessThan(2)
  })
})
