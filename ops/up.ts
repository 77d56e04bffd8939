/** `bun ops/up.ts [flags]` = `bun ops/cli.ts up` (ops/up runs it after installing what is missing). */
import { main } from "./cli.ts"

main(["up", ...process.argv.slice(2)])
