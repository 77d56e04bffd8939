/**
 * Why the CLI is stopping: ops/cli.ts records the signal (SIGINT / SIGTERM) before it interrupts
 * the running command, so a long-running command's release can log it (the node's `node.shutdown`).
 */
let requested: string | undefined

/** The signal that asked the CLI to stop, if any. */
export const stopRequested = (): string | undefined => requested

/** Records a stop request; true the first time. */
export const requestStop = (signal: string): boolean => {
  if (requested !== undefined) return false
  requested = signal
  return true
}
