/** `bun ops/cluster.ts [--nodes N] [--config file]` = `bun ops/cli.ts local-cluster` (`bun run cluster`). */
import { main } from "./cli.ts"

main(["local-cluster", ...process.argv.slice(2)])
