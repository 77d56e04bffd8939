import { Context, Effect, Layer } from "effect"
import type { AkisConfig } from "../../config/schema.ts"
import { makeChdbStore } from "./chdb-store.ts"
import { makeClickHouseStore } from "./clickhouse-store.ts"
import type { Store } from "./store.ts"

/** The configured store: `chdb:<dir>` selects the embedded store, anything else the HTTP server. */
export const makeStore = (cfg: AkisConfig["clickhouse"]): Store =>
  cfg.url.startsWith("chdb:")
    ? makeChdbStore(cfg.url.slice(5) || undefined)
    : makeClickHouseStore({
      url: cfg.url, database: cfg.database, user: cfg.user, password: cfg.password, requestTimeoutMs: cfg.requestTimeoutMs,
    })

/** The ClickHouse store as an Effect service; the layers close it when their scope ends. */
export class ClickHouseStore extends Context.Service<ClickHouseStore, Store>()("akis/sink/ClickHouseStore") {
  /** The store named by config section `clickhouse`. */
  static readonly layer = (cfg: AkisConfig["clickhouse"]) =>
    Layer.effect(ClickHouseStore, Effect.acquireRelease(Effect.sync(() => makeStore(cfg)), (s) => Effect.promise(() => s.close())))
  /** An embedded chDB store in `path` (a temp dir when omitted): tests and single-node use. */
  static readonly layerChdb = (path?: string) =>
    Layer.effect(ClickHouseStore, Effect.acquireRelease(Effect.sync(() => makeChdbStore(path)), (s) => Effect.promise(() => s.close())))
}
