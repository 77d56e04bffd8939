/**
 * Private servers and child processes on loopback: used by `bun run cluster` / `ops/up` (fixed
 * ports, data under .akis/) and by every test through tests/harness (free ports, temp dirs).
 */
export { waitFor } from "./wait.ts"
export { freePort } from "./ports.ts"
export { killAllChildren, serverBinary, spawnChild, tempDir, type Child } from "./proc.ts"
export { harnessCredentials, roleAuth, startNats, startNatsCluster, type NatsServer, type NatsCluster, type NatsServerOptions } from "./nats.ts"
export { startClickHouse, type ClickHouseServer, type ClickHouseOptions } from "./clickhouse.ts"
export { startHttpReceiver, type HttpReceiver, type ReceivedRequest, type ReceiverMode } from "./http-receiver.ts"
export { startOllamaFake, fakeExplanation, type OllamaFake, type OllamaFakeMode } from "./ollama-fake.ts"
export { startNginx, renderNginxConfig, type Nginx, type NginxOptions } from "./nginx.ts"
export { nodeBunFlags, nodeStopSignal } from "./profile.ts"
