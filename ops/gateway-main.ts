/** `bun ops/gateway-main.ts [--config file]` = `bun ops/cli.ts gateway` (kept for the benchmarks and tests that spawn it). */
import { main } from "./cli.ts"

main(["gateway", ...process.argv.slice(2)])
