import { systemClock } from "../../runtime/clock.ts"
import type { MemberInfo } from "../../runtime/membership.ts"
import { Checkpoints } from "../../runtime/checkpoints.ts"
import { isWireDecodeError, LeaseRecord, MemberRecord, NodeStats, orUndefined } from "../../runtime/wire.ts"
import type { OpsContext } from "./context.ts"

/** One shard's row in `ops cluster`. */
export interface ShardRow {
  shard: number
  owner: string | null
  epoch: number | null
  leaseRevision: number | null
  checkpointSeq: number | null
  processedSeq: number | null
  pendingBatches: number | null
  lastBatchAgeMs: number | null
  actors: number | null
  /** Readings the shard's host processed since it took the shard (the dashboard derives readings/s). */
  readings: number | null
}

/** Members (with heartbeat age) and the shard map with positions and lag. */
export const clusterView = async (ctx: Pick<OpsContext, "config" | "bus" | "inspect" | "bucket">) => {
  const P = ctx.config.cluster.partitions
  const shardsKv = await ctx.bucket("akis_shards")
  const snaps = new Checkpoints(await ctx.bucket("akis_snapshots"))
  const configKv = await ctx.bucket("akis_config")
  const stored = await configKv.get("partitions")
  const clusterP = Number(stored ? new TextDecoder().decode(stored.value) : P)
  const members: Array<MemberInfo & { heartbeatAgeMs: number }> = []
  // The heartbeat's age is the server's write time of the entry: a row of the inspection view.
  for (const e of await ctx.inspect.entries("akis_members")) {
    if (e.operation !== "PUT") continue
    try {
      members.push({ ...MemberRecord.fromJson(e.value), heartbeatAgeMs: systemClock.now() - e.created })
    } catch (err) {
      if (!isWireDecodeError(err)) throw err // not a heartbeat: not a member
    }
  }
  const stats = new Map<number, Record<string, number | null>>()
  await Promise.all(members.map(async (m) => {
    try {
      const r = await ctx.bus.request(`akis.ctl.stats.${m.id}`, new Uint8Array(0), 1_500)
      for (const s of NodeStats.fromJson(r).shards) if (typeof s.shard === "number") stats.set(s.shard, s)
    } catch {
      // a dead or unreachable member (or a malformed answer): its shards show without live figures
    }
  }))
  const shards: ShardRow[] = await Promise.all(Array.from({ length: clusterP }, async (_, s) => {
    const lease = await shardsKv.get(`shard.${s}`)
    const l = lease?.operation === "PUT" ? orUndefined(() => LeaseRecord.fromJson(lease.value)) : undefined // not a lease: shown unowned
    const cp = await snaps.head(s).catch(() => ({ head: undefined })) // position only: the body may be megabytes in the object store
    const st = stats.get(s)
    return {
      shard: s, owner: l?.owner ?? null, epoch: l?.epoch ?? null, leaseRevision: lease?.operation === "PUT" ? lease.revision : null,
      checkpointSeq: cp.head?.streamSeq ?? null, processedSeq: st?.processedSeq ?? null,
      pendingBatches: st?.pendingBatches ?? null, lastBatchAgeMs: st?.lastBatchAgeMs ?? null, actors: st ? (st.actors ?? 0) + (st.passivated ?? 0) : null,
      readings: st?.readings ?? null,
    }
  }))
  const suspicionMs = ctx.config.node.suspicionMs
  return {
    partitions: clusterP,
    members: members.map((m) => ({ ...m, alive: m.heartbeatAgeMs < suspicionMs, shards: shards.filter((s) => s.owner === m.id).length })),
    shards,
    unowned: shards.filter((s) => s.owner === null || !members.some((m) => m.id === s.owner && m.heartbeatAgeMs < suspicionMs)).map((s) => s.shard),
  }
}
