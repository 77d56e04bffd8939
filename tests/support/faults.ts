/**
 * Test-only fault injection, to show that a test's checks can fail: `TEST_FAULT=<kind>` makes
 * the end-to-end test break what it is about to check (one reading dropped, one stored twice in a
 * way queries see, one alert transition published twice). Never used by production code.
 */
import type { NatsConnection } from "@nats-io/transport-node"
import { jetstream } from "@nats-io/jetstream"
import { telemetryColumns, tables, quoteString, type Store } from "../../actors/sink/index.ts"
import type { DeviceSchema } from "../../config/device-schema.ts"
import { alertSubject, type AlertTransition } from "../../runtime/index.ts"
import { waitFor } from "../harness/index.ts"

export type FaultKind = "drop-reading" | "dup-reading" | "dup-alert"
const kinds: ReadonlyArray<FaultKind> = ["drop-reading", "dup-reading", "dup-alert"]

/** The fault asked for in the environment, if any. */
export const requestedFault = (): FaultKind | undefined => {
  const v = process.env.TEST_FAULT
  if (v === undefined || v === "") return undefined
  if (!kinds.includes(v as FaultKind)) throw new Error(`TEST_FAULT must be one of ${kinds.join(", ")} (got '${v}')`)
  return v as FaultKind
}

/** Deletes one stored reading of `device` (every copy) and waits for the mutation. */
export const dropReading = async (store: Store, device: string, seq: number): Promise<void> => {
  await store.exec(`ALTER TABLE ${tables.telemetry} DELETE WHERE device_id = ${quoteString(device)} AND seq = ${seq}`)
  await waitFor("delete mutation done", async () =>
    Number((await store.query<{ n: number }>(`SELECT count() AS n FROM system.mutations WHERE table = '${tables.telemetry}' AND is_done = 0`))[0]!.n) === 0,
  { timeoutMs: 30_000, intervalMs: 200 })
}

/** Stores a second copy of one reading with its time 1 s off, so that de-duplication (FINAL, history) cannot hide it. */
export const duplicateReading = async (store: Store, schema: DeviceSchema, device: string, seq: number): Promise<void> => {
  const cols = telemetryColumns(schema)
  const sel = cols.map((c) => (c === "ts" ? "ts + 1" : `\`${c}\``)).join(", ")
  await store.exec(`INSERT INTO ${tables.telemetry} (${cols.map((c) => `\`${c}\``).join(", ")}) SELECT ${sel} FROM ${tables.telemetry} WHERE device_id = ${quoteString(device)} AND seq = ${seq} LIMIT 1`)
}

/** Publishes a transition again under a new id: the same alert raised twice. */
export const duplicateAlert = async (nc: NatsConnection, t: AlertTransition): Promise<void> => {
  await jetstream(nc).publish(alertSubject(t), JSON.stringify({ ...t, id: `${t.id}-again` }), { msgID: `${t.id}-again` })
}
