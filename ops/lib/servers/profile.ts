/**
 * Bun flags for the node processes a benchmark or local cluster spawns. With
 * `AKIS_PROFILE_DIR=<dir>` set, each node writes a CPU profile (`bun --cpu-prof`, and as markdown: `--cpu-prof-md`)
 * there when it exits after SIGTERM (benchmarks stop profiled nodes with SIGTERM, not SIGKILL).
 */
export const nodeBunFlags = (env: NodeJS.ProcessEnv = process.env): string[] =>
  env.AKIS_PROFILE_DIR ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${env.AKIS_PROFILE_DIR}`] : []

/** The signal that stops a benchmark's nodes: SIGTERM while profiling (the profile is written on exit), else SIGKILL. */
export const nodeStopSignal = (env: NodeJS.ProcessEnv = process.env): "SIGTERM" | "SIGKILL" => (env.AKIS_PROFILE_DIR ? "SIGTERM" : "SIGKILL")
