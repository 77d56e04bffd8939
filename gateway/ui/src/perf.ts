/**
 * What `ops bench ui` and the browser tests read from the page (`window.akisPerf`): when the fleet
 * page first showed its devices, and the main-thread time of each live update (script + style +
 * layout, measured by forcing layout at the end of the update; paint is not included).
 */
export const perf = { firstRenderMs: null as number | null, firstRenderRows: 0, updateMs: [] as number[], renders: [] as Array<{ ms: number; rows: number; live: boolean }> }
;(window as unknown as { akisPerf: typeof perf }).akisPerf = perf

/** Runs one live update and records its main-thread time. */
export const timed = (f: () => void) => {
  performance.mark("akis-update") // lets a trace find the task of each update (ops bench ui: its thread CPU time)
  const t0 = performance.now()
  f()
  void document.body.offsetHeight // style and layout now, inside the measurement
  const ms = performance.now() - t0
  perf.updateMs.push(ms)
  if (perf.updateMs.length > 10_000) perf.updateMs.splice(0, 5_000)
  return ms
}
