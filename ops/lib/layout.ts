import { availableParallelism } from "node:os"

/**
 * How many node processes a local cluster (`ops/up`, `bun run cluster`, `ops bench e2e`) starts
 * when not told: one per core, at least 2 (a failover needs a survivor) and at most 3. Each node
 * runs a gateway, a worker and the API; a third node on two cores costs about 20 % more node CPU
 * per reading and 40 % more stack CPU at the reference load than two (docs/decisions.md).
 */
export const defaultNodeCount = (cores = availableParallelism()): number => Math.min(3, Math.max(2, cores))

