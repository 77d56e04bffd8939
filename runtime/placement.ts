import { fnv1a32 } from "./shard.ts"

/**
 * Shard placement: a pure function of the live worker set and P. Rendezvous (highest random
 * weight) hashing with bounded loads: every shard ranks the workers by a hash of (shard, worker)
 * and goes to the best-ranked worker that still has room under the cap ⌈1.25·P/N⌉. Shards are
 * placed in a fixed order (by their own hash), so the result depends only on the member set.
 * Guarantees, property-tested in placement.test.ts and discussed in docs/decisions.md:
 * no worker holds more than the cap; a join or a leave moves close to the unavoidable minimum.
 */

/** Load factor of the bound: no worker gets more than ⌈loadFactor·P/N⌉ shards. */
export const loadFactor = 1.25

/** Per-worker cap for P shards over N workers. */
export const capacity = (partitions: number, workers: number): number => Math.ceil((loadFactor * partitions) / workers)

// 32-bit mix (murmur3 finaliser) so rendezvous weights of similar names are independent.
const mix = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Rendezvous weight of `worker` for `shard`. */
const weight = (shard: number, workerHash: number): number => mix(workerHash ^ mix(shard + 0x9e3779b9))

/**
 * Owner of every shard (index = shard id) for the given workers; `undefined` entries only when
 * there is no worker. Worker names must be unique; their order does not matter.
 *
 * All (shard, worker) pairs are taken in descending rendezvous weight and a pair is accepted when
 * its shard is still unplaced and its worker below the cap (a greedy stable matching). A joiner
 * therefore takes exactly the shards it wins outright, up to the cap, and a freed slot is refilled
 * only by a shard that ranks that worker highest among the workers with room, which keeps
 * cascades short.
 */
export const placeShards = (workers: ReadonlyArray<string>, partitions: number): Array<string | undefined> => {
  const owners = new Array<string | undefined>(partitions).fill(undefined)
  const n = workers.length
  if (n === 0) return owners
  const names = [...new Set(workers)].sort()
  const m = names.length
  const hashes = names.map((w) => fnv1a32(w))
  const cap = capacity(partitions, m)
  const load = new Array<number>(m).fill(0)
  // Pairs packed as index = shard * m + worker, sorted by weight (ties broken by index).
  const total = partitions * m
  const weights = new Float64Array(total)
  const pairs = new Uint32Array(total)
  for (let s = 0; s < partitions; s++) {
    for (let i = 0; i < m; i++) {
      weights[s * m + i] = weight(s, hashes[i]!)
      pairs[s * m + i] = s * m + i
    }
  }
  pairs.sort((a, b) => weights[b]! - weights[a]! || a - b)
  let placed = 0
  for (let k = 0; k < total && placed < partitions; k++) {
    const p = pairs[k]!
    const s = Math.floor(p / m)
    const i = p - s * m
    if (owners[s] !== undefined || load[i]! >= cap) continue
    owners[s] = names[i]
    load[i]!++
    placed++
  }
  return owners
}
