import type { DeviceSchema } from "../../config/device-schema.ts"
import { fromRequester } from "../../runtime/nats/guard.ts"
import type { Bus } from "../../runtime/nats/ports.ts"
import { HistoryReply, HistoryRequestMessage, historyFailureCodes, isWireDecodeError } from "../../runtime/wire.ts"
import {
  alerts, fleetAggregate, HistoryInputInvalid, readings, type AlertsQuery, type FleetQuery, type ReadingsQuery, type Store,
} from "../../actors/sink/index.ts"

/**
 * History queries over NATS. Every worker node answers on {@link historySubject} (one queue
 * group), running the validated queries of actors/sink on its own store. The embedded store
 * (`clickhouse.url: chdb:<dir>`) can be opened by one process only, the node's, so this is how
 * ops/up's live summary and other processes read it; on a ClickHouse server it works the same.
 */
export const historySubject = "akis.history"

/** What {@link askHistory} can ask. */
export type HistoryRequest =
  | { readonly op: "summary" }
  | { readonly op: "readings"; readonly query: ReadingsQuery }
  | { readonly op: "fleet"; readonly query: FleetQuery }
  | { readonly op: "alerts"; readonly query: AlertsQuery }

/** The figures of ops/up's summary: telemetry rows and alert transitions stored. */
export interface StoreSummary {
  readonly stored: number
  readonly raised: number
  readonly cleared: number
}

/** A refused or failed history request, as the serving node described it. */
export class HistoryRequestFailed extends Error {
  override readonly name = "HistoryRequestFailed"
  constructor(readonly code: (typeof historyFailureCodes)[number], message: string, readonly field?: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
  }
}

/** Rows stored in telemetry and alert transitions raised / cleared (one query each). */
export const storeSummary = async (store: Store): Promise<StoreSummary> => {
  const [rows] = await store.query<{ n: number }>("SELECT count() AS n FROM telemetry")
  const [open] = await store.query<{ raised: number; cleared: number }>(
    "SELECT countIf(kind = 'raised') AS raised, countIf(kind = 'cleared') AS cleared FROM (SELECT kind FROM alerts FINAL)",
  )
  return { stored: Number(rows?.n ?? 0), raised: Number(open?.raised ?? 0), cleared: Number(open?.cleared ?? 0) }
}

const run = (store: Store, schema: DeviceSchema, req: HistoryRequest): Promise<unknown> => {
  switch (req.op) {
    case "summary": return storeSummary(store)
    case "readings": return readings(store, schema, req.query)
    case "fleet": return fleetAggregate(store, schema, req.query)
    case "alerts": return alerts(store, req.query)
    default: throw new HistoryInputInvalid({ field: "op", message: "must be summary, readings, fleet or alerts" })
  }
}

/**
 * Answers history requests on `bus` from `store` until `stop()`. Counts what it answered and
 * refused. An answer over `maxPayload` (the server's max_payload, runtime/nats/client.ts
 * `maxPayloadOf`) is refused as too large.
 */
export const serveHistory = (bus: Bus, store: Store, schema: DeviceSchema, maxPayload = 1_048_576) => {
  const counters = { answered: 0, refused: 0, failed: 0 }
  const answer = async (data: Uint8Array): Promise<HistoryReply> => {
    let req: HistoryRequest
    try {
      req = HistoryRequestMessage.fromJson(data)
    } catch (e) {
      if (!isWireDecodeError(e)) throw e
      counters.refused++
      return { ok: false, code: "input", field: e.path || undefined, message: `not a history request: ${e.message}` }
    }
    try {
      const result = await run(store, schema, req)
      counters.answered++
      return { ok: true, result }
    } catch (e) {
      if (e instanceof HistoryInputInvalid) {
        counters.refused++
        return { ok: false, code: "input", field: e.field, message: e.message }
      }
      counters.failed++
      return { ok: false, code: "store", message: (e as Error)?.message ?? String(e) }
    }
  }
  const sub = bus.subscribe(historySubject, (m) => {
    if (!fromRequester(m, historySubject)) return // delivered by a consumer, not asked (runtime/nats/guard.ts)
    void answer(m.data).then((reply) => {
      let body = HistoryReply.toBytes(reply)
      const max = maxPayload
      if (body.length > max) {
        counters.answered--
        counters.refused++
        body = HistoryReply.toBytes({
          ok: false, code: "too_large",
          message: `the result is ${body.length} bytes, over NATS max_payload (${max}); ask for fewer fields, points or rows, or a shorter range`,
        })
      }
      m.respond(body)
    })
  }, { queue: "akis-history" })
  return { counters, stop: () => sub.unsubscribe() }
}

/**
 * Asks a worker node's store (see {@link serveHistory}); throws {@link HistoryRequestFailed}, whose
 * `cause` is the Bus's NoAnswer when no worker node answered.
 */
export const askHistory = async <T>(bus: Bus, req: HistoryRequest, timeoutMs = 10_000): Promise<T> => {
  let data: Uint8Array
  try {
    data = await bus.request(historySubject, HistoryRequestMessage.toBytes(req), timeoutMs)
  } catch (e) {
    throw new HistoryRequestFailed("request", `no worker node answered ${historySubject}: ${(e as Error).message}`, undefined, e)
  }
  let reply: HistoryReply
  try {
    reply = HistoryReply.fromJson(data)
  } catch (e) {
    throw new HistoryRequestFailed("request", (e as Error).message)
  }
  // The result's shape is the op's (readings, fleet, alerts, summary): the caller names it (T).
  if (!reply.ok) throw new HistoryRequestFailed(reply.code, reply.message, reply.field)
  return reply.result as T
}
