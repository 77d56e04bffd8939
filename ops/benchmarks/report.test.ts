import { describe, expect, test } from "bun:test"
import { benchCommand, benchPlans, renderReport, type SavedRun } from "./report.ts"

const run: SavedRun = {
  name: "e2e", command: benchCommand("e2e").join(" "), started: "2026-11-25 16:00 UTC", seconds: 900, commit: "abc1234",
  machine: { cpus: 2, load_before: [0.1, 0.2, 0.3], load_after: [1.5, 1.2, 0.8] },
  result: { readings_per_s: 101234, p99_alert_ms: 12.5, steps: [{ offered: 100000, stored_per_s: 101234, sustained: true, reason: null }] },
}

describe("benchmarks page", () => {
  test("a list of rows in a result is a table of its own, not a cell", () => {
    const api: SavedRun = { ...run, name: "api", command: benchCommand("api").join(" "), result: { live_state_req_per_s: 5100, live_state_sweep: [{ connections: 8, p99_ms: 12.5 }, { connections: 16, p99_ms: 19 }] } }
    const page = renderReport([run, api])
    expect(page).toContain("| connections | p99_ms |\n|---|---|\n| 8 | 12.5 |\n| 16 | 19 |")
    expect(page).not.toContain("| `live_state_sweep` |")
  })

  test("every figure comes with the run's command, commit, time and load; benchmarks not run say so", () => {
    const page = renderReport([run])
    expect(page).toContain("`bun run ops bench e2e --json` — commit abc1234, 2026-11-25 16:00 UTC, 900 s, 2 CPUs, load average 0.10/0.20/0.30 before")
    expect(page).toContain("| `readings_per_s` | 101,234 |")
    expect(page).toContain("| 100,000 | – | – | 101,234 |")
    for (const name of Object.keys(benchPlans).filter((n) => n !== "e2e" && n !== "api")) expect(page).toContain(`\`${benchCommand(name).join(" ")}\` — **not measured yet**`)
  })
})
