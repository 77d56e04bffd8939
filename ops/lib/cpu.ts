import { readFileSync } from "node:fs"

const clockTicksPerS = Number(new TextDecoder().decode(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout).trim()) || 100

/** CPU time of process `pid` so far (all threads, user + system), ms; 0 when it cannot be read. */
export const processCpuMs = (pid: number | undefined): number => {
  if (pid === undefined) return 0
  try {
    // Fields after "(comm)": state is the 1st, utime the 12th, stime the 13th (proc(5)).
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return ((Number(f[11]) + Number(f[12])) * 1000) / clockTicksPerS
  } catch {
    return 0
  }
}

/** CPU time of the processes `pids` so far, summed (each as {@link processCpuMs}), ms. */
export const processesCpuMs = (pids: ReadonlyArray<number | undefined>): number => pids.reduce((a: number, p) => a + processCpuMs(p), 0)

/** CPU time so far of each named group of processes (as {@link processesCpuMs}), ms. */
export const groupsCpuMs = (groups: Readonly<Record<string, ReadonlyArray<number | undefined>>>): Record<string, number> =>
  Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, processesCpuMs(pids)]))

/** CPU time of each group since `before` (a {@link groupsCpuMs} reading of the same groups), ms. */
export const groupsCpuMsSince = (groups: Readonly<Record<string, ReadonlyArray<number | undefined>>>, before: Readonly<Record<string, number>>): Record<string, number> =>
  Object.fromEntries(Object.entries(groupsCpuMs(groups)).map(([k, ms]) => [k, ms - (before[k] ?? 0)]))
