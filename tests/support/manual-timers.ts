import type { Timers } from "../../actors/sink/index.ts"

/** Manual timers: nothing fires until `advance`. */
export const manualTimers = () => {
  let now = 1_795_000_000_000
  let pending: Array<{ at: number; f: () => void; id: number }> = []
  let ids = 0
  const timers: Timers = {
    now: () => now,
    setTimeout: (f, ms) => {
      pending.push({ at: now + ms, f, id: ++ids })
      return ids
    },
    clearTimeout: (h) => {
      pending = pending.filter((p) => p.id !== h)
    },
  }
  const advance = async (ms: number) => {
    now += ms
    const due = pending.filter((p) => p.at <= now)
    pending = pending.filter((p) => p.at > now)
    for (const p of due) p.f()
    await ticks()
  }
  return { timers, advance }
}

// Lets the sink's insert promises run (no wall-clock waiting involved).
export const ticks = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve()
}
