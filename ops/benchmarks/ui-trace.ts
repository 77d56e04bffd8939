import type { CDPSession } from "playwright-core"

/** One trace event as Chrome reports it (the fields used here). */
interface TraceEvent { readonly name: string; readonly ph: string; readonly ts: number; readonly dur?: number; readonly tdur?: number; readonly pid: number; readonly tid: number; readonly args?: { name?: string } }

/**
 * Records a Chrome trace for `ms` and returns, for every `akis-update` mark the page made, the
 * main-thread task that contained it: its wall time (`dur`) and its thread CPU time (`tdur`,
 * what the task cost the main thread even when the OS lent the core to another process).
 */
export const traceUpdates = async (cdp: CDPSession, ms: number): Promise<Array<{ wallMs: number; cpuMs: number }>> => {
  const events: TraceEvent[] = []
  cdp.on("Tracing.dataCollected", (e) => events.push(...(e.value as unknown as TraceEvent[])))
  const done = new Promise<void>((r) => cdp.once("Tracing.tracingComplete", () => r()))
  await cdp.send("Tracing.start", { categories: "toplevel,blink.user_timing,disabled-by-default-devtools.timeline", transferMode: "ReportEvents" })
  await Bun.sleep(ms)
  await cdp.send("Tracing.end")
  await done
  const marks = events.filter((e) => e.name === "akis-update" && e.ph !== "X")
  const tasks = events.filter((e) => e.ph === "X" && (e.name === "RunTask" || e.name === "ThreadControllerImpl::RunTask") && e.dur !== undefined)
  const out: Array<{ wallMs: number; cpuMs: number }> = []
  for (const m of marks) {
    const t = tasks.find((x) => x.pid === m.pid && x.tid === m.tid && x.ts <= m.ts && m.ts <= x.ts + x.dur!)
    if (t) out.push({ wallMs: t.dur! / 1000, cpuMs: (t.tdur ?? t.dur!) / 1000 })
  }
  return out
}
