import { SlidingWindow } from "./actors/device/window.ts"
for (const [m, e] of [[false, false], [true, false], [false, true], [true, true]] as const) {
  const ws = Array.from({ length: 12 }, (_, i) => new SlidingWindow("k", 10000, m, e))
  const N = 1_000_000
  const s = performance.now()
  let t = 0
  for (let i = 0; i < N; i++) { t += 500; for (const w of ws) w.push(t, Math.sin(i)) }
  console.log(m, e, ((performance.now() - s) * 1e6 / (N * 12)).toFixed(1), "ns/push")
}
