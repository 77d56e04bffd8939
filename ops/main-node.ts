/** `bun ops/main-node.ts` = `bun ops/cli.ts node` (kept for the scripts and tests that spawn it). */
import { main } from "./cli.ts"

main(["node", ...process.argv.slice(2)])
