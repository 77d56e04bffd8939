/** What `ops bench` passes on; each benchmark reads the options it knows. */
export interface BenchOptions {
  readonly runs?: number | undefined
  readonly json: boolean
  readonly rates?: string | undefined
  /** e2e: seconds per ramp step (default 60) and of the reference phase (default 30); short values for a quick check. */
  readonly stepSeconds?: number | undefined
  readonly refSeconds?: number | undefined
  /** Measured seconds where a benchmark has a fixed measuring window (ingest, sink): short values for a quick check. */
  readonly seconds?: number | undefined
  /** e2e: node processes (default: one per core, 2–3, as ops/up). */
  readonly nodes?: number | undefined
  /** scale: largest fleet size. */
  readonly maxDevices?: number | undefined
}

/** A benchmark: runs, shows progress on stderr, and returns the figures it measured. */
export interface Benchmark {
  readonly description: string
  run(opts: BenchOptions): Promise<Record<string, unknown>>
}

/** Every benchmark by name, loaded on demand. One line per benchmark file. */
export const benchmarks: Record<string, () => Promise<Benchmark>> = {
  failover: async () => (await import("./failover.ts")).default,
  sink: async () => (await import("./sink.ts")).default,
  "sink-cost": async () => (await import("./sink-cost.ts")).default,
  ingest: async () => (await import("./ingest.ts")).default,
  rules: async () => (await import("./rules.ts")).default,
  e2e: async () => (await import("./e2e.ts")).default,
  checkpoint: async () => (await import("./checkpoint.ts")).default,
  notify: async () => (await import("./notify.ts")).default,
  "ack-modes": async () => (await import("./ack-modes.ts")).default,
  api: async () => (await import("./api.ts")).default,
  rollup: async () => (await import("./rollup.ts")).default,
  scale: async () => (await import("./scale.ts")).default,
  ui: async () => (await import("./ui.ts")).default,
}
