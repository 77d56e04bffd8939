import { join, resolve } from "node:path"
import { mkdirSync } from "node:fs"
import { loadavg } from "node:os"
import { launchChromium } from "../lib/browser.ts"
import { traceUpdates } from "./ui-trace.ts"
import { startClickHouse, startNats, tempDir, waitFor } from "../lib/servers/index.ts"
import { startApiCluster, type ApiCluster } from "../lib/api-cluster.ts"
import type { Benchmark } from "./index.ts"

/** The page's globals inside page.evaluate callbacks (this program has no DOM lib). */
declare const window: any, document: any, sessionStorage: any
const root = resolve(import.meta.dir, "..", "..")
const r1 = (x: number) => Math.round(x * 10) / 10
const DEVICES = 1000
const MEASURE_S = 60
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : Number.NaN
}

/**
 * The dashboard in Chromium while the reference fleet (1,000 buses × 2 Hz) runs on the same
 * machine: 3 nodes [worker, gateway, api], nginx in front, the page opened through nginx (HTTPS)
 * as an operator would. Measures the fleet page's first render (navigation start → the table
 * shows every device with live values) and the main-thread time of each live update (the page's own timing:
 * merge, filter, sort, visible rows, GPS plot, then forced style + layout). `update_ms_*` is the
 * main thread's CPU time for the task of each update, from a Chrome trace; `update_wall_ms_*` the
 * page's wall-clock timing, which on a shared machine also counts time the OS gave to others.
 */
const benchmark: Benchmark = {
  description: "dashboard in Chromium with 1,000 devices × 2 Hz: fleet page first render, main-thread time per live update (p50/p95/max)",
  async run() {
    const say = (m: string) => process.stderr.write(`[bench ui] ${m}\n`)
    const [ns, ch] = await Promise.all([startNats(), startClickHouse({ nice: 10 })])
    const dir = tempDir("akis-bench-ui-")
    let cluster: ApiCluster | undefined
    let browser: Awaited<ReturnType<typeof launchChromium>> | undefined
    try {
      say("creating certificates, starting 3 nodes and nginx")
      cluster = await startApiCluster({
        natsUrl: ns.url, clickhouseUrl: ch.url, dir, ids: ["b1", "b2", "b3"], devices: DEVICES, partitions: 16, nginx: true,
        env: {}, tokens: { "bench-ui": "operator" },
      })
      const apis = cluster.apiPorts
      const nginx = cluster.nginx!
      const token = cluster.tokens["bench-ui"]!
      say("starting the reference fleet (1,000 buses × 2 Hz)")
      cluster.fleet(`devices: ${DEVICES}\nprefix: bus-\nrate: 2\nduration: 600s\nformat: csv\nanomalies:\n  - { device: bus-0042, at: 5s, field: accel_x_ms2, ramp_to: 6, over: 1s, for: 5s }\n`, ["--refresh", "50"], { nice: true })
      const live = async () => ((await (await fetch(`http://127.0.0.1:${apis[0]}/api/v1/fleet/live?fields=speed_kmh`, { headers: { authorization: `Bearer ${token}` } })).json()) as { ids: string[] }).ids.length
      await waitFor("every device sending", async () => (await live()) >= DEVICES, { timeoutMs: 90_000, intervalMs: 1_000 })

      browser = await launchChromium()
      const page = await browser.context.newPage()
      await page.goto(`${nginx.apiUrl}/dashboard/`)
      await page.evaluate((t) => sessionStorage.setItem("akis.token", t), token)
      const cdp = await browser.context.newCDPSession(page)
      await cdp.send("Performance.enable")
      // First render: a fresh navigation to the fleet page, already signed in (token in sessionStorage).
      await page.goto(`${nginx.apiUrl}/dashboard/#/fleet`)
      await page.reload()
      await page.waitForFunction((n) => window.akisPerf?.renders.some((r: { rows: number; live: boolean }) => r.rows >= n && r.live), DEVICES, { timeout: 60_000 })
      const firstRender = await page.evaluate((n) => window.akisPerf.renders.find((r: { rows: number; live: boolean }) => r.rows >= n && r.live).ms as number, DEVICES)
      say(`first render of ${DEVICES} devices: ${r1(firstRender)} ms after navigation start`)
      // Live updates over MEASURE_S seconds: the page's own timing (wall clock around merge → layout), and from a
      // Chrome trace the main-thread task of each update: its thread CPU time (what the update costs the main
      // thread; on this shared machine wall time also counts the moments the OS ran another process).
      const metric = async (name: string) => ((await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === name)?.value ?? 0)
      const before = await page.evaluate(() => window.akisPerf.updateMs.length as number)
      const task0 = await metric("TaskDuration")
      const t0 = performance.now()
      const traced = await traceUpdates(cdp, MEASURE_S * 1000)
      const taskS = (await metric("TaskDuration")) - task0
      const wallS = (performance.now() - t0) / 1000
      const updates = await page.evaluate((from) => window.akisPerf.updateMs.slice(from) as number[], before)
      const cpu = traced.map((t) => t.cpuMs)
      const taskWall = traced.map((t) => t.wallMs)
      say(`${updates.length} updates in ${r1(wallS)} s; main-thread CPU per update p50 ${r1(pct(cpu, 50))} ms, p95 ${r1(pct(cpu, 95))} ms, max ${r1(Math.max(...cpu))} ms (${cpu.length} traced); ` +
        `wall p50 ${r1(pct(updates, 50))} ms, p95 ${r1(pct(updates, 95))} ms; main thread busy ${r1((taskS / wallS) * 100)} %`)
      const rows = await page.evaluate(() => document.querySelector(".counts")?.textContent ?? "")
      mkdirSync(join(root, ".akis", "screenshots"), { recursive: true })
      await page.screenshot({ path: join(root, ".akis", "screenshots", "bench-fleet.png") })
      say(rows)
      return {
        devices: DEVICES,
        first_render_ms: Math.round(firstRender),
        update_ms_p50: r1(pct(cpu, 50)),
        update_ms_p95: r1(pct(cpu, 95)),
        update_ms_max: r1(Math.max(...cpu)),
        update_wall_ms_p50: r1(pct(updates, 50)),
        update_wall_ms_p95: r1(pct(updates, 95)),
        update_task_wall_ms_p95: r1(pct(taskWall, 95)),
        load_average_1m: r1(loadavg()[0]!),
        updates_per_s: r1(updates.length / wallS),
        main_thread_busy_pct: r1((taskS / wallS) * 100),
        fleet_counts: rows,
        setup: `3 nodes [worker,gateway,api], P=16, reference fleet ${DEVICES}×2 Hz running, Chromium (Debian, headless, 1400×900) through nginx HTTPS; ${MEASURE_S} s of live updates; update_ms = main-thread CPU time of each update's task (Chrome trace)`,
      }
    } finally {
      await browser?.close()
      await cluster?.stop()
      await Promise.all([ns.cleanup(), ch.cleanup()])
    }
  },
}
export default benchmark
