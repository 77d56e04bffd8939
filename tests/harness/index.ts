/**
 * The one test harness: private servers on loopback (free ports, temp dirs), child processes
 * that die with the test process, waiting with deadlines. Implemented in ops/lib/servers, which
 * `bun run cluster` uses too.
 */
export * from "../../ops/lib/servers/index.ts"
