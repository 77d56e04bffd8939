/** A benchmark: runs, shows progress on stderr, and returns the figures it measured. */
export interface Benchmark {
  readonly description: string
  run(opts: { readonly runs?: number | undefined; readonly json: boolean; readonly rates?: string | undefined }): Promise<Record<string, unknown>>
}

/** Every benchmark by name, loaded on demand. One line per benchmark file. */
export const benchmarks: Record<string, () => Promise<Benchmark>> = {
  failover: async () => (await import("./failover.ts")).default,
  sink: async () => (await import("./sink.ts")).default,
  ingest: async () => (await import("./ingest.ts")).default,
  rules: async () => (await import("./rules.ts")).default,
  e2e: async () => (await import("./e2e.ts")).default,
  checkpoint: async () => (await import("./checkpoint.ts")).default,
  api: async () => (await import("./api.ts")).default,
  ui: async () => (await import("./ui.ts")).default,
}
