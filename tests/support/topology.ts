import type { TopologyOptions } from "../../runtime/nats/topology.ts"

/**
 * Stream settings of the tests: short ages, small byte limits. Test nodes get the same through
 * {@link testTopologyEnv} (tests/support/cluster.ts), since a node refuses streams whose
 * settings contradict its configuration.
 */
export const testTopology: TopologyOptions = { replicas: 1, telemetryMaxAgeHours: 1, alertsMaxAgeHours: 1, telemetryMaxMB: 1024, alertsMaxMB: 256 }

/** The same settings as AKIS_* variables for a node process (`replicas` as given). */
export const testTopologyEnv = (replicas = 1): Record<string, string> => ({
  AKIS_STREAMS__REPLICAS: String(replicas),
  AKIS_STREAMS__TELEMETRYMAXAGEHOURS: String(testTopology.telemetryMaxAgeHours),
  AKIS_STREAMS__ALERTSMAXAGEHOURS: String(testTopology.alertsMaxAgeHours),
  AKIS_STREAMS__TELEMETRYMAXMB: String(testTopology.telemetryMaxMB),
  AKIS_STREAMS__ALERTSMAXMB: String(testTopology.alertsMaxMB),
})
