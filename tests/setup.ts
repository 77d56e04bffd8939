/**
 * Preloaded before every test file (bunfig.toml). bun test exits without running process exit
 * handlers, so a test that failed before killing its servers and nodes left them running after
 * the run; this kills whatever is left once all files are done.
 */
import { afterAll } from "bun:test"
import { killAllChildren } from "./harness/index.ts"

afterAll(() => killAllChildren())
