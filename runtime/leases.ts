import type { KV } from "./nats/connection.ts"
import { isWrongLastSequence } from "./nats/connection.ts"
import { isWireDecodeError, LeaseRecord } from "./wire.ts"

/** A held shard lease: the KV revision is the fencing token. */
export interface Lease {
  readonly shard: number
  readonly revision: number
  readonly epoch: number
}

/** What `akis_shards` holds under `shard.<n>`. */
export interface LeaseValue {
  readonly owner: string
  readonly epoch: number
  readonly at: number
}

/** The current holder of a shard, if any. */
export interface LeaseState {
  readonly value: LeaseValue | undefined
  readonly revision: number
}

const key = (shard: number) => `shard.${shard}`

/**
 * Shard leases in `akis_shards`, taken by compare-and-set. A lease is valid while its holder is
 * alive (membership); a dead holder's lease is taken over with a CAS on the revision, and a
 * planned handoff deletes it with a CAS. Any CAS that fails means somebody else moved first.
 */
export class Leases {
  /** Lease values read that were not leases (see {@link read}). */
  malformed = 0

  constructor(private readonly kv: KV, private readonly self: string, private readonly clock: { now(): number }) {}

  /** Reads the current state of a shard's lease. */
  async read(shard: number): Promise<LeaseState> {
    const e = await this.kv.get(key(shard))
    if (!e) return { value: undefined, revision: 0 }
    if (e.operation !== "PUT") return { value: undefined, revision: e.revision }
    try {
      return { value: LeaseRecord.fromJson(e.value), revision: e.revision }
    } catch (err) {
      if (!isWireDecodeError(err)) throw err
      // Not a lease (written by hand?): held by nobody alive, so it is taken over by CAS on its revision.
      this.malformed++
      return { value: { owner: "", epoch: 0, at: 0 }, revision: e.revision }
    }
  }

  /**
   * Tries to take `shard`: creates the lease when free, or replaces it (CAS on `from.revision`)
   * when `from` is a dead holder's lease. Returns undefined when another node won the race.
   */
  async take(shard: number, from: LeaseState): Promise<Lease | undefined> {
    const epoch = (from.value?.epoch ?? 0) + 1
    const value = LeaseRecord.toJson({ owner: this.self, epoch, at: this.clock.now() } satisfies LeaseValue)
    try {
      const revision = from.value === undefined
        ? await this.kv.create(key(shard), value)
        : await this.kv.update(key(shard), value, from.revision)
      return { shard, revision, epoch }
    } catch (e) {
      if (isWrongLastSequence(e) || isExists(e)) return undefined
      throw e
    }
  }

  /** Releases a held lease (CAS delete); false if it was no longer ours. */
  async release(lease: Lease): Promise<boolean> {
    try {
      await this.kv.delete(key(lease.shard), { previousSeq: lease.revision })
      return true
    } catch (e) {
      if (isWrongLastSequence(e)) return false
      throw e
    }
  }

  /** Is `lease` still the current lease of its shard? */
  async holds(lease: Lease): Promise<boolean> {
    const e = await this.kv.get(key(lease.shard))
    return !!e && e.operation === "PUT" && e.revision === lease.revision
  }

  /** All shards' lease states (index = shard). */
  async readAll(partitions: number): Promise<LeaseState[]> {
    return Promise.all(Array.from({ length: partitions }, (_, s) => this.read(s)))
  }
}

// kv.create on an existing key fails with "wrong last sequence" on 2.9; keep a guard for other wordings.
const isExists = (e: unknown) => e instanceof Error && /exists|wrong last sequence/i.test(e.message)
