/** `bun ops/lint.ts` = `bun ops/cli.ts lint` (ops/test runs it). */
import { main } from "./cli.ts"

main(["lint", ...process.argv.slice(2)])
