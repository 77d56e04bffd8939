import { Effect, Option } from "effect"
import { loadConfig } from "../../config/index.ts"
import type { AkisConfig } from "../../config/schema.ts"
import { connectNats, type Bus, type Kv, type Nats } from "../../runtime/index.ts"
import { natsAuth } from "../../runtime/nats/auth.ts"
import { natsBus } from "../../runtime/nats/bus.ts"
import { close, openKv } from "../../runtime/nats/client.ts"
import { natsInspect, type Inspect } from "../../runtime/nats/inspect.ts"
import type { Role } from "../../runtime/nats/topology.ts"
import { attempt, type Fallback } from "./cli/errors.ts"

/**
 * A CLI command's view of the cluster: config, and NATS as ports (closed by `close`). `nats` is
 * the connection itself, only handed on to the runtime functions that still take it.
 */
export interface OpsContext {
  readonly config: AkisConfig
  readonly nats: Nats
  /** Core request/reply (`akis.ctl.*`, `akis.history`). */
  readonly bus: Bus
  /** Streams, consumers and buckets as plain rows. */
  readonly inspect: Inspect
  /** Opens an existing bucket (never creates one); StreamNotFound when it does not exist. */
  bucket(name: string): Promise<Kv>
  close(): Promise<void>
}

/** The ports of a CLI context on a connection opened elsewhere (the API node's own). */
export const contextOn = (config: AkisConfig, nats: Nats, closeIt = false): OpsContext => {
  // Opened once per name (the API node and ops/up ask again and again); a failed open is retried.
  const buckets = new Map<string, Promise<Kv>>()
  const bucket = (name: string) => {
    let b = buckets.get(name)
    if (!b) {
      b = openKv(nats.nc, name).catch((e: unknown) => {
        buckets.delete(name)
        throw e
      })
      buckets.set(name, b)
    }
    return b
  }
  return { config, nats, bus: natsBus(nats.nc), inspect: natsInspect(nats.nc), bucket, close: () => (closeIt ? close(nats.nc) : Promise.resolve()) }
}

/** Loads config (file from --config or AKIS_CONFIG) and connects to NATS as `role`, failing fast with a clear message. */
export const opsContext = async (configFile?: string, role: Role = "admin"): Promise<OpsContext> => {
  const config = loadConfig({ file: configFile })
  const nats = await connectNats({ servers: config.nats.servers, auth: natsAuth(config.nats, role), name: "akis-ops", connectTimeoutMs: 5_000 })
  return contextOn(config, nats, true)
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
