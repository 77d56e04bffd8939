/** Counters of a device actor kind (all devices of a node). Every drop is counted here. */
export interface DeviceMetrics {
  /** Readings accepted (stored and, unless too late, evaluated). */
  readings: number
  /** Readings dropped as resends of stored ones: seq ≤ the boot's last seq and ts not later (actors/device/dedup.ts). */
  duplicates: number
  /** Boots seen for the first time (or again after being forgotten): numbering epochs started by a hello. */
  newBoots: number
  /** Counts restarted without a new boot, recognised by a seq that went back with a later ts (v1 devices after a reboot). */
  numberingRestarts: number
  /** Readings older than the newest event time but within lateness: entered windows at the newest time. */
  lateClamped: number
  /** Readings older than the lateness bound: stored for history, but not put in windows or evaluated. */
  lateDiscarded: number
  /** Readings stamped too far ahead of processing time: stored for history, not evaluated. */
  futureDiscarded: number
  /** Readings whose row width did not match the rule set's schema: stored, not evaluated. */
  schemaMismatch: number
  raised: number
  escalated: number
  cleared: number
  /** Open alerts closed because their rule changed, was removed or no longer applies to the device. */
  clearedByReload: number
  /** Per-device migrations to a new rule set version. */
  migrations: number
  ticks: number
}

/** Fresh, zeroed counters. */
export const makeDeviceMetrics = (): DeviceMetrics => ({
  readings: 0, duplicates: 0, newBoots: 0, numberingRestarts: 0, lateClamped: 0, lateDiscarded: 0, futureDiscarded: 0, schemaMismatch: 0,
  raised: 0, escalated: 0, cleared: 0, clearedByReload: 0, migrations: 0, ticks: 0,
})
