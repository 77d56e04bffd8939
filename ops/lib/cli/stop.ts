/**
 * Why the CLI is stopping. ops/cli.ts records the signal (SIGINT / SIGTERM) before it interrupts
 * the running command and provides it here, so a long-running command's stop can log it (the
 * node's `node.shutdown` reason). Default when not provided: no signal.
 */
import { Context } from "effect"

export interface StopSignal {
  /** The signal that asked the CLI to stop, if any. */
  readonly requested: () => string | undefined
}

export const StopSignal = Context.Reference<StopSignal>("akis/ops/StopSignal", { defaultValue: () => ({ requested: () => undefined }) })
