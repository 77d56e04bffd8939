/**
 * Probe (not part of `ops bench`): 400,000 readings at 500 per second pushed into a window arena
 * of four 10-minute windows sized for 2 readings/s, so its rings grow by doubling; best of 5.
 * docs/benchmarks-history.md quotes it (session of 2026-11-26 morning) for the ring re-layout.
 *
 *   bun ops/benchmarks/probes/arena-grow.ts
 */
import { WindowArena } from "../../../actors/device/engine/arena.ts"

const needs = [0, 1, 2, 3].map((field) => ({ field, ms: 600_000, moments: true, extremes: field < 2 }))
let best = Number.POSITIVE_INFINITY
for (let rep = 0; rep < 5; rep++) {
  const arena = new WindowArena(needs, 2)
  const row = new Float64Array(4)
  const t0 = performance.now()
  for (let i = 0; i < 400_000; i++) {
    row[0] = i % 97
    row[1] = i % 13
    row[2] = i
    row[3] = -i
    arena.pushRow(i * 2, row, 0)
  }
  best = Math.min(best, performance.now() - t0)
}
console.log(`400k pushes at 500 readings/s into 10-minute windows sized for 2/s: best of 5 ${best.toFixed(1)} ms`)
