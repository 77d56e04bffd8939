import { Kvm, type KV } from "@nats-io/kv"
import { Effect, Option } from "effect"
import { loadConfig } from "../../config/index.ts"
import type { AkisConfig } from "../../config/schema.ts"
import { connectNats, names, type Nats } from "../../runtime/index.ts"
import { natsAuth } from "../../runtime/nats/auth.ts"
import type { Role } from "../../runtime/nats/topology.ts"
import { attempt, type Fallback } from "./cli/errors.ts"

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

/**
 * Runs `fn` with a connected context (closed afterwards). A bad config fails with BadConfig, an
 * unreachable NATS with Unreachable, anything `fn` throws with `fallback` (CommandFailed by default).
 */
export const withContext = <T>(config: Option.Option<string>, fn: (ctx: OpsContext) => Promise<T>, fallback?: Fallback) =>
  Effect.acquireUseRelease(
    attempt(() => opsContext(Option.getOrUndefined(config))),
    (ctx) => attempt(() => fn(ctx), fallback),
    (ctx) => Effect.promise(() => ctx.close().catch(() => {})),
  )
