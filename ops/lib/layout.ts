import { availableParallelism } from "node:os"

/**
 * How many node processes a local cluster (`ops/up`, `bun run cluster`, `ops bench e2e`) starts
 * when not told: one per core, at least 2 (a failover needs a survivor) and at most 3. Each node
 * runs a gateway, a worker and the API; a third node on two cores costs about 20 % more node CPU
 * per reading and 40 % more stack CPU at the reference load than two (docs/decisions.md).
 */
export const defaultNodeCount = (cores = availableParallelism()): number => Math.min(3, Math.max(2, cores))

/**
 * Bun flags for the node processes a benchmark or local cluster spawns. With
 * `AKIS_PROFILE_DIR=<dir>` set, each node writes a CPU profile (markdown, `bun --cpu-prof-md`)
 * there when it exits after SIGTERM (benchmarks stop profiled nodes with SIGTERM, not SIGKILL).
 */
export const nodeBunFlags = (env: NodeJS.ProcessEnv = process.env): string[] =>
  env.AKIS_PROFILE_DIR ? ["--cpu-prof-md", `--cpu-prof-dir=${env.AKIS_PROFILE_DIR}`] : []

/** The signal that stops a benchmark's nodes: SIGTERM while profiling (the profile is written on exit), else SIGKILL. */
export const nodeStopSignal = (env: NodeJS.ProcessEnv = process.env): "SIGTERM" | "SIGKILL" => (env.AKIS_PROFILE_DIR ? "SIGTERM" : "SIGKILL")
