/** Public surface of the ClickHouse sink: stores, migrations, the per-shard sink, alerts and history queries. */
import type { AkisConfig } from "../../config/schema.ts"
import type { SinkGroupOptions } from "./sink.ts"

export type { Store, InsertFormat } from "./store.ts"
export { pinnedSettings } from "./store.ts"
export { makeClickHouseStore, type ClickHouseStoreConfig } from "./clickhouse-store.ts"
export { makeChdbStore } from "./chdb-store.ts"
export { ClickHouseStore, makeStore } from "./store-service.ts"
export { migrate, dropExpired, tables, telemetryColumns, alertColumns, explanationColumns, type MigrationReport } from "./tables.ts"
export { makeSink, makeSinkGroup, type Sink, type SinkGroup, type SinkOptions, type SinkGroupOptions, type SinkMetrics } from "./sink.ts"
export { makeRollupJob, rollupGraceS, runRollup, rollupState, type RollupJob, type RollupMetrics, type RollupState, type RollupRunResult } from "./rollup.ts"
export { makeRetentionJob, type RetentionJob, type RetentionMetrics, type RetentionOptions } from "./retention.ts"
export { writeAlerts, parseTransition, alertRows } from "./alerts.ts"
export { writeExplanations, explanationsOf, explanationRows } from "./explanations.ts"
export { startAlertWriter, ensureAlertsStream, alertsStream, type AlertWriter, type AlertWriterOptions } from "./alert-consumer.ts"
export {
  readings, fleetAggregate, alerts, deviceIdPattern, ruleNamePattern, historyLimits,
  type ReadingsQuery, type ReadingsResult, type FleetQuery, type FleetRow, type AlertsQuery,
} from "./history.ts"
export { quoteString } from "./sql.ts"
export { StoreRefused, StoreUnavailable, storeErrorTag, type StoreError, FencedOut, SinkClosed, HistoryInputInvalid, MigrationFailed } from "./errors.ts"

/** Group options from config section `sink` (clock and logging are the caller's). */
export const sinkGroupOptions = (cfg: AkisConfig["sink"], onError?: (e: unknown, attempt: number) => void): SinkGroupOptions => ({
  batchRows: cfg.batchRows, flushMs: cfg.flushMs, maxPendingRows: cfg.maxPendingRows, maxInflight: cfg.maxInflight, retryMinMs: cfg.retryMinMs, retryMaxMs: cfg.retryMaxMs,
  onError,
})
/** The telemetry body encoders and their row buffer, for benches and probes that compare insert formats. */
export { nativeEncoder, rowBinaryEncoder, tsvEncoder, type RowEncoder } from "./internal/row-encoders.ts"
export { RowColumns } from "./internal/columns.ts"
