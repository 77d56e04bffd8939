/**
 * House-style checks from STYLE.md that a type checker does not do (`ops lint`, `bun ops/lint.ts`).
 * - a source file over 800 lines (over 400 is listed as a warning: it needs a reason in review)
 * - `throw new Error(` in runtime/ or actors/ (use tagged errors from the folder's errors.ts)
 * - process.env / Bun.env outside config/ (and the test/ops process launchers)
 * - imports of another folder's internal/ modules
 * - Date.now() / setTimeout / crypto.randomUUID in actors/ pure behaviour files
 * - `@nats-io/*` imported in runtime/ outside runtime/nats, in actors/, gateway/ or config/, or in ops/
 *   outside the test and bench harness (ops/lib/servers, ops/benchmarks): the ports' adapters are
 *   the one place that knows NATS
 * - config/ importing runtime/, actors/, gateway/ or ops/ (config is the bottom layer: the rule DSL
 *   compiles to a plan that the device actor's engine runs, never the other way round)
 */
import { Glob } from "bun"
import { readFileSync } from "node:fs"
import { join } from "node:path"

const folders = ["runtime", "actors", "gateway", "config", "ops", "tests"]
const envAllowed = [/^config\//, /^tests\//, /^ops\/lib\/servers\//]
/** Where `@nats-io/*` may not be imported: runtime/ but runtime/nats, actors/, gateway/, config/, ops/ but the harness that runs nats-server and the benchmarks. */
const natsBarred = /^(runtime\/(?!nats\/)|actors\/|gateway\/|config\/|ops\/(?!lib\/servers\/|benchmarks\/))/

/** Checks every source file under `root`; the errors fail `ops lint`, the warnings are listed. */
export const lint = (root = "."): { errors: string[]; warnings: string[] } => {
  const errors: string[] = []
  const warnings: string[] = []

  for (const folder of folders) {
    for (const file of new Glob(`${folder}/**/*.ts`).scanSync(root)) {
      const text = readFileSync(join(root, file), "utf8")
      const lines = text.split("\n")
      if (lines.length > 800) errors.push(`${file}: ${lines.length} lines (split it: over 800)`)
      else if (lines.length > 400 && !file.endsWith(".test.ts")) warnings.push(`${file}: ${lines.length} lines (over 400: give a reason in review)`)
      lines.forEach((line, i) => {
        if (/^\s*(\*|\/\/|\/\*)/.test(line)) return // comments
        const at = `${file}:${i + 1}`
        if (/^(runtime|actors)\//.test(file) && !file.endsWith(".test.ts") && /throw new Error\(/.test(line)) {
          errors.push(`${at}: throw new Error( in ${folder}/ — use a tagged error from ${folder}/errors.ts`)
        }
        if (/\b(process\.env|Bun\.env)\b/.test(line) && !envAllowed.some((r) => r.test(file))) {
          errors.push(`${at}: reads the environment outside config/ — take it from the config instead`)
        }
        const imp = /from\s+["'](\.\.\/[^"']*\/internal\/[^"']*)["']/.exec(line)
        if (imp) errors.push(`${at}: imports another folder's internals (${imp[1]}) — use its index.ts`)
        if (natsBarred.test(file) && !file.endsWith(".test.ts") && /from\s+["']@nats-io\//.test(line)) {
          errors.push(`${at}: imports NATS outside runtime/nats — take a port (runtime/nats/ports.ts)`)
        }
        const up = /^config\//.test(file) && /(?:from\s+|import\s*\(\s*|^\s*import\s+)["'](?:\.\.\/)+(runtime|actors|gateway|ops)\//.exec(line)
        if (up) errors.push(`${at}: config/ imports ${up[1]}/ — config is the bottom layer (DSL, schema, limits, plan), depending on nothing above it`)
        if (/^actors\/.*behaviour\.ts$/.test(file) && /\b(Date\.now\(\)|setTimeout\(|randomUUID\()/.test(line)) {
          errors.push(`${at}: time or ids in a pure behaviour — take them from the ActorContext`)
        }
      })
    }
  }
  return { errors, warnings }
}
