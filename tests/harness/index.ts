/** The one test harness: private servers on loopback, child processes, waiting with deadlines. */
export { waitFor } from "./wait.ts"
export { freePort } from "./ports.ts"
export { spawnChild, tempDir, type Child } from "./proc.ts"
export { startNats, startNatsCluster, type NatsServer, type NatsCluster } from "./nats.ts"
export { startClickHouse, type ClickHouseServer } from "./clickhouse.ts"
