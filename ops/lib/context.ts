import { Kvm, type KV } from "@nats-io/kv"
import { Effect, Option } from "effect"
import { loadConfig } from "../../config/index.ts"
import type { AkisConfig } from "../../config/schema.ts"
import { connectNats, names, type Nats } from "../../runtime/index.ts"
import { natsAuth } from "../../runtime/nats/auth.ts"
import type { Role } from "../../runtime/nats/topology.ts"

/** A CLI command's view of the cluster: config plus a NATS connection (closed by `close`). */
export interface OpsContext {
  readonly config: AkisConfig
  readonly nats: Nats
  /** Opens an existing bucket (never creates one). */
  bucket(name: (typeof names)[keyof typeof names]): Promise<KV>
  close(): Promise<void>
}

/** Loads config (file from --config or AKIS_CONFIG) and connects to NATS as `role`, failing fast with a clear message. */
export const opsContext = async (configFile?: string, role: Role = "admin"): Promise<OpsContext> => {
  const config = loadConfig({ file: configFile })
  const nats = await connectNats({ servers: config.nats.servers, auth: natsAuth(config.nats, role), name: "akis-ops", connectTimeoutMs: 5_000 })
  const kvm = new Kvm(nats.nc)
  return { config, nats, bucket: (name) => kvm.open(name), close: () => nats.nc.close() }
}

/** Renders rows as an aligned text table. */
export const table = (headers: string[], rows: Array<Array<string | number | null | undefined>>): string => {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? "-" : String(c))))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)))
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()
  return [line(cells[0]!), line(widths.map((w) => "-".repeat(w))), ...cells.slice(1).map(line)].join("\n")
}

/** Formats a millisecond age as "1.2s" / "3m". */
export const age = (ms: number | null | undefined): string =>
  ms === null || ms === undefined ? "-" : ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 60_000)}m`

/** Runs `fn` with a connected context; prints its error and exits 1 on failure. */
export const withContext = <T>(config: Option.Option<string>, fn: (ctx: OpsContext) => Promise<T>) =>
  Effect.promise(async () => {
    let ctx: OpsContext | undefined
    try {
      ctx = await opsContext(Option.getOrUndefined(config))
      return await fn(ctx)
    } catch (e) {
      console.error((e as Error).message)
      process.exit(1)
    } finally {
      await ctx?.close().catch(() => {})
    }
  })
