/**
 * `ops bench scale`: many devices on this machine. For each fleet size of the ladder 1k → 10k →
 * 50k → 100k (capped by `--max-devices`): N simulated devices (sim processes of ≤ 10k devices,
 * every connection a real mTLS handshake to a real gateway process; as many gateway processes as
 * their open-file limit needs, devices spread evenly) at a fixed total rate; then
 * - RSS per open connection: the gateway processes' RSS growth over their empty baseline, / N;
 * - bytes per device actor, active (every device has sent) and idle (sending paused until every
 *   actor passivated): the worker's JS heap in use right after a full GC (asked for over
 *   `akis.ctl.stats`), growth over its baseline / N; its RSS growth / N is reported too (an upper
 *   bound: freed heap is not always returned to the OS, and it includes the sink's buffers);
 * - handshakes/s: N / time until every device is connected;
 * - checkpoint bytes per shard (the node's own figure of its last checkpoint);
 * - the idle-cluster cost: CPU of all processes (gateway, worker, nats, ClickHouse) over 10 s
 *   with the fleet connected and silent, in cores;
 * - reconnect: every gateway is killed (SIGKILL) and restarted on its port; seconds from the kill
 *   until every device is connected again, the largest shard lag (pending batches) meanwhile
 *   against the lag bound, and the CPU per reconnected device by process (the simulators' share is
 *   the devices' half of each handshake, which real devices do on their own CPUs).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { join, resolve } from "node:path"
import { groupsCpuMs, groupsCpuMsSince, processesCpuMs } from "../lib/cpu.ts"
import { freePort, nodeBunFlags, nodeStopSignal, spawnChild, startClickHouse, startNats, tempDir, waitFor, type Child } from "../lib/servers/index.ts"
import { scanNodeEvents } from "./node-events.ts"
import type { Benchmark } from "./index.ts"
import { writeChartPng } from "./plot.ts"
import { mintDeviceCerts } from "./scale/mint.ts"
import type { SimConfig } from "./scale/sim.ts"
import { r1, reconnectCpu, reconnectMiss, refusedIn, type Step } from "./scale/verdict.ts"
import { NodeStats, StatsRequest } from "../../runtime/wire.ts"

const root = resolve(import.meta.dir, "..", "..")
const ladder = [1_000, 10_000, 50_000, 100_000]
const perSim = 10_000
/**
 * Connections per gateway process: what its open-file limit allows, less a margin for everything
 * else it opens. Larger fleets get more gateway processes (this machine's hard limit is 20,000
 * descriptors per process, and root may not raise it).
 */
const perGateway = (() => {
  const m = /Max open files\s+(\d+)/.exec(readFileSync("/proc/self/limits", "utf8"))
  return Math.max(1_000, (m ? Number(m[1]) : 20_000) - 2_000)
})()
const sourcesPerSim = 4
/** `setsid` when the kernel groups scheduling by session (autogroup); see where the worker starts. */
const autogroup = (() => {
  try {
    return readFileSync("/proc/sys/kernel/sched_autogroup_enabled", "utf8").trim() === "1" && existsSync("/usr/bin/setsid")
  } catch {
    return false
  }
})()
const ownSchedulingGroup = autogroup ? ["/usr/bin/setsid"] : []
const totalRate = 1_000
const actorIdleMs = 15_000
const checkpointMs = 5_000
/** The cluster's lag bound: api.readyMaxLagBatches' default, past which a node's /readyz fails. */
const lagBound = 1_000
const goals = { bytes_per_idle_actor: 10 * 1024, bytes_per_connection: 30 * 1024, reconnect_s: 60 } as const
/** How long a fleet of `n` may take to reconnect before it counts as a miss (10 ms per device, ≥ 2 min). */
const reconnectWaitMs = (n: number) => Math.max(120_000, n * 10)
const say = (m: string) => process.stderr.write(`[bench scale] ${m}\n`)

const rssBytes = async (pid: number | undefined): Promise<number> => {
  if (pid === undefined) return 0
  const m = /VmRSS:\s+(\d+) kB/.exec(await Bun.file(`/proc/${pid}/status`).text().catch(() => ""))
  return m ? Number(m[1]) * 1024 : 0
}

interface SimCounters { connected: number; handshakes: number; failed: number; closed: number; sent: number; handshake_timeouts: number; attempts: number }
const lastCounters = (c: Child): SimCounters | undefined => {
  const lines = c.output().trimEnd().split("\n")
  for (let i = lines.length - 1; i >= 0 && i >= lines.length - 5; i--) {
    if (lines[i]!.startsWith("{")) return JSON.parse(lines[i]!) as SimCounters
  }
  return undefined
}

const benchmark: Benchmark = {
  description: "many devices: RSS per connection and per actor, handshakes/s, reconnect after a gateway kill, checkpoint bytes, idle cost",
  async run(opts) {
    const maxDevices = opts.maxDevices ?? 100_000
    if (!(Number.isInteger(maxDevices) && maxDevices >= 10)) throw new Error(`--max-devices: an integer ≥ 10 (got ${maxDevices})`)
    const sizes = ladder.filter((n) => n < maxDevices)
    sizes.push(maxDevices)
    const [ns, ch] = await Promise.all([startNats(), startClickHouse({ nice: 10 })])
    const nc = await ns.connect()
    const dir = tempDir("akis-bench-scale-")
    const children: Child[] = []
    let sims: Child[] = []
    const steps: Step[] = []
    try {
      say("creating the fleet CA and the gateway certificate")
      const certDir = join(dir, "certs")
      const certs = spawnChild("certs", ["bun", join(root, "ops/cli.ts"), "certs", "init", "--dir", certDir, "--devices", "1"], { cwd: root })
      if ((await certs.exited) !== 0) throw new Error(`ops certs init failed: ${certs.output().slice(-500)}`)
      const ids = Array.from({ length: maxDevices }, (_, i) => `sc-${String(i + 1).padStart(6, "0")}`)
      const t0 = performance.now()
      const fleet = await mintDeviceCerts(join(certDir, "ca.crt"), join(certDir, "ca", "ca.key"), ids)
      say(`minted ${ids.length} device certificates in ${r1((performance.now() - t0) / 1000)} s`)
      const caPem = await Bun.file(join(certDir, "ca.crt")).text()

      const env = {
        AKIS_NATS__SERVERS: ns.url, AKIS_CLICKHOUSE__URL: ch.url, AKIS_GATEWAY__CERTDIR: certDir, AKIS_CLUSTER__PARTITIONS: "16",
        AKIS_NODE__DATADIR: dir, AKIS_NODE__ACTORIDLEMS: String(actorIdleMs),
        AKIS_NODE__CHECKPOINTMS: String(checkpointMs),
        // Devices here send every N/rate seconds (100 s at 100k): the default 60 s idle timeout would close them.
        AKIS_GATEWAY__IDLETIMEOUTMS: "3600000",
      }
      // The worker runs in a session of its own, so the kernel schedules it as a group of its own
      // (autogroup), as it would as a service of its own (systemd gives each unit a cgroup of equal
      // weight). In the bench's session it was one of 19 busy processes on 2 cores during the
      // reconnect storm and got 1/19 of the machine while the device and gateway processes got the rest.
      const worker = spawnChild("worker", [...ownSchedulingGroup, "bun", ...nodeBunFlags(), join(root, "ops/main-node.ts")], { cwd: root, env: { ...env, AKIS_NODE__ID: "w1", AKIS_NODE__ROLES: "[worker]" } })
      children.push(worker)
      /** The gateway processes, each on its own port; a fleet gets as many as its size needs. */
      const gateways: Array<{ port: number; child: Child }> = []
      const startGateway = async (port: number) => {
        const g = spawnChild(`gateway-${port}`, ["bun", ...nodeBunFlags(), join(root, "ops/gateway-main.ts")], { cwd: root, env: { ...env, AKIS_GATEWAY__PORT: String(port) } })
        children.push(g)
        await g.waitForLine(/gateway listening/, 60_000)
        return g
      }
      const ensureGateways = async (count: number) => {
        while (gateways.length < count) {
          const port = freePort()
          gateways.push({ port, child: await startGateway(port) })
        }
      }
      const gatewaysRss = async () => (await Promise.all(gateways.map((g) => rssBytes(g.child.proc.pid)))).reduce((a, b) => a + b, 0)
      await ensureGateways(1)
      await worker.waitForLine(/"event":"node.start"/, 60_000)
      const nodeStats = async (gc = false): Promise<NodeStats> => {
        const r = await nc.request("akis.ctl.stats.w1", gc ? StatsRequest.toJson({ gc: true }) : undefined, { timeout: 10_000 })
        return NodeStats.fromJson(r.data)
      }
      const stats = async () => (await nodeStats()).shards
      /** The worker's JS heap in use right after a full collection: live data only. */
      const heapAfterGc = async () => (await nodeStats(true)).memory?.heapUsed ?? 0
      await waitFor("the worker's 16 shards", async () => (await stats()).length === 16, { timeoutMs: 60_000, intervalMs: 500 })
      await Bun.sleep(3_000)
      // One empty gateway's RSS: every gateway started later counts against the same baseline.
      const base = { gw: await gatewaysRss(), worker: await rssBytes(worker.proc.pid), heap: await heapAfterGc() }
      say(`baseline: gateway RSS ${r1(base.gw / 1e6)} MB (${perGateway} connections per gateway process at most), worker RSS ${r1(base.worker / 1e6)} MB, worker heap after GC ${r1(base.heap / 1e6)} MB`)
      const sumSims = (k: keyof SimCounters) => sims.reduce((a, s) => a + (lastCounters(s)?.[k] ?? 0), 0)

      let prevIdle: { devices: number; heap: number } | undefined
      for (const n of sizes) {
        const gatewayCount = Math.ceil(n / perGateway)
        await ensureGateways(gatewayCount)
        say(`--- ${n} devices (${Math.ceil(n / perSim)} simulator processes, ${gatewayCount} gateway processes, ${totalRate} readings/s in all)`)
        for (const s of sims) await s.kill("SIGKILL")
        sims = []
        const simFiles: string[] = []
        const step: Step = {
          devices: n, sims: Math.ceil(n / perSim), gateways: gatewayCount, handshake_timeouts: null, connected: 0, connect_s: null, handshakes_per_s: null, gateway_rss_mb: 0, worker_rss_mb: 0,
          bytes_per_connection: null, bytes_per_active_actor: null, actors_connected: null, bytes_per_idle_actor: null, marginal_bytes_per_idle_actor: null, worker_idle_heap_mb: 0, rss_bytes_per_active_actor: null, rss_bytes_per_idle_actor: null, actors: { live: 0, passivated: 0 },
          checkpoint_bytes_per_shard: { max: 0, mean: 0 }, snapshot_bytes_per_actor: null, idle_cpu_cores: null, idle_cpu_cores_by_process: {}, idle_work: {}, reconnect_s: null, reconnect_max_lag_batches: null, reconnect_cpu_ms_per_device: {}, reconnect_s_server_cpu_bound: null,
          reconnect_worker_events: {}, reconnect_worker_event_first: {}, reconnect_worker_max_stall_ms: null, reconnect_refused_lagging: null, reconnect_attempts_per_device: null, reconnect_s_cpu_bound: null, misses: [],
        }
        steps.push(step)
        const start = Date.now()
        for (let i = 0; i < n; i += perSim) {
          const slice = Math.min(perSim, n - i)
          const cfg: SimConfig = {
            ids: ids.slice(i, i + slice), certs: fleet.certs.slice(i, i + slice), keyPem: fleet.keyPem, caPem,
            addresses: gateways.slice(0, gatewayCount).map((g) => ({ host: "127.0.0.1", port: g.port })), ratePerS: (totalRate * slice) / n, concurrency: 64,
            // 127.0.0.2, 127.0.0.3, …: a few sources per simulator, so a per-source handshake cap is not hit.
            sources: Array.from({ length: sourcesPerSim }, (_, j) => `127.0.${Math.floor((2 + (i / perSim) * sourcesPerSim + j) / 256)}.${(2 + (i / perSim) * sourcesPerSim + j) % 256}`),
          }
          const file = join(dir, `sim-${n}-${i}.json`)
          writeFileSync(file, JSON.stringify(cfg))
          simFiles.push(file)
          sims.push(spawnChild(`sim-${i}`, ["bun", ...nodeBunFlags(), join(import.meta.dir, "scale", "sim.ts"), file], { cwd: root }))
        }
        const connectTimeout = 60_000 + n * 5 // 5 ms per device on top of a minute
        const all = await waitFor(`${n} devices connected`, () => sumSims("connected") >= n, { timeoutMs: connectTimeout, intervalMs: 250 })
          .then(() => true, () => false)
        step.connected = sumSims("connected")
        if (!all) {
          step.misses.push(`only ${step.connected} of ${n} devices connected within ${connectTimeout / 1000} s (failed handshakes ${sumSims("failed")}, closed ${sumSims("closed")})`)
          say(step.misses.at(-1)!)
          break
        }
        step.connect_s = r1((Date.now() - start) / 1000)
        step.handshakes_per_s = Math.round(sumSims("handshakes") / step.connect_s)
        say(`connected in ${step.connect_s} s (${step.handshakes_per_s} handshakes/s)`)
        const actors = async (): Promise<{ live: number; passivated: number; shards: number }> => {
          let [live, passivated] = [0, 0]
          const shards = await stats()
          for (const s of shards) {
            live += s.actors ?? 0
            passivated += s.passivated ?? 0
          }
          return { live, passivated, shards: shards.length }
        }
        // Every device's first reading reached its actor: each actor exists, live or (idle for
        // actorIdleMs already: a fleet connecting for longer than that cannot be all live at once) passivated.
        const active = await waitFor("an actor per device", async () => { const a = await actors(); return a.live + a.passivated >= n ? a : undefined }, { timeoutMs: 120_000, intervalMs: 1_000 })
          .catch(() => undefined)
        if (!active) step.misses.push(`not every device's first reading reached its actor within 120 s (${JSON.stringify(await actors())})`)
        step.actors_connected = active ? { live: active.live, passivated: active.passivated } : null
        await Bun.sleep(2_000)
        const gwRss = await gatewaysRss()
        const wRss = await rssBytes(worker.proc.pid)
        step.gateway_rss_mb = r1(gwRss / 1e6)
        step.bytes_per_connection = Math.round((gwRss - base.gw * gateways.length) / n)
        step.rss_bytes_per_active_actor = Math.round((wRss - base.worker) / n)
        step.bytes_per_active_actor = Math.round(((await heapAfterGc()) - base.heap) / n)
        say(`gateway RSS ${step.gateway_rss_mb} MB (${step.bytes_per_connection} B per connection); worker RSS ${r1(wRss / 1e6)} MB (${step.rss_bytes_per_active_actor} B per active actor), heap ${step.bytes_per_active_actor} B per active actor`)

        say(`pausing the fleet until every actor passivates (idle ${actorIdleMs / 1000} s)`)
        for (const f of simFiles) writeFileSync(`${f}.pause`, "")
        // Counted only while the worker holds all 16 shards: a shard it lost takes its actors along.
        const idle = await waitFor("every actor passivated", async () => { const a = await actors(); return a.live === 0 && a.shards === 16 ? a : undefined }, { timeoutMs: actorIdleMs + 60_000, intervalMs: 1_000 })
          .catch(() => undefined)
        const held = await actors()
        step.actors = { live: held.live, passivated: held.passivated }
        if (held.shards < 16) step.misses.push(`the worker held only ${held.shards} of 16 shards after the fleet went silent (lost under load: its memory and idle figures of this step are not comparable)`)
        // The default pack's `unchanged(coolant_temp_c, 10m)` may fire while a device is silent, so
        // its actor keeps a due timer and stays live until that horizon (≈ 10 min) has passed.
        if (!idle) step.misses.push(`actors still live ${actorIdleMs / 1000 + 60} s after the fleet went silent (${JSON.stringify(step.actors)}): timed rules (the default pack's unchanged(…, 10m)) keep a silent device's actor live until their horizon; bytes_per_idle_actor is then the live idle actor's`)
        await Bun.sleep(checkpointMs + 2_000) // the passivated actors' checkpoint
        const idleRss = await rssBytes(worker.proc.pid)
        step.worker_rss_mb = r1(idleRss / 1e6)
        step.rss_bytes_per_idle_actor = Math.round((idleRss - base.worker) / n)
        const idleHeap = await heapAfterGc()
        step.bytes_per_idle_actor = Math.round((idleHeap - base.heap) / n)
        step.worker_idle_heap_mb = r1(idleHeap / 1e6)
        if (prevIdle) step.marginal_bytes_per_idle_actor = Math.round((idleHeap - prevIdle.heap) / (n - prevIdle.devices))
        prevIdle = { devices: n, heap: idleHeap }
        const atHeap = await actors()
        if (atHeap.live > 0) step.misses.push(`${atHeap.live} actors were live again when the idle heap was measured (woken by their timers): bytes_per_idle_actor includes them`)
        const cps = (await stats()).map((s) => s.checkpointBytes ?? 0)
        step.checkpoint_bytes_per_shard = { max: Math.max(0, ...cps), mean: Math.round(cps.reduce((a, b) => a + b, 0) / Math.max(1, cps.length)) }
        step.snapshot_bytes_per_actor = Math.round(cps.reduce((a, b) => a + b, 0) / Math.max(1, step.actors.live + step.actors.passivated))
        const work = async () => {
          const sum: Record<string, number> = {}
          for (const s of await stats()) for (const k of ["batches", "checkpoints", "activations", "passivations", "wakeups"]) sum[k] = (sum[k] ?? 0) + (s[k] ?? 0)
          return sum
        }
        const work0 = await work()
        const pids = { gateway: gateways.map((g) => g.child.proc.pid), worker: [worker.proc.pid], nats: [ns.pid], clickhouse: [ch.pid] }
        const cpu0 = groupsCpuMs(pids)
        await Bun.sleep(10_000)
        // Each group read once at the end: the total is the sum of the same readings.
        const usedMs = groupsCpuMsSince(pids, cpu0)
        const cores = (ms: number) => Math.round((ms / 10_000) * 1000) / 1000
        step.idle_cpu_cores_by_process = Object.fromEntries(Object.entries(usedMs).map(([k, ms]) => [k, cores(ms)]))
        const work1 = await work()
        step.idle_work = Object.fromEntries(Object.entries(work1).map(([k, v]) => [k, v - (work0[k] ?? 0)]))
        step.idle_cpu_cores = cores(Object.values(usedMs).reduce((a, b) => a + b, 0))
        say(`idle: worker RSS ${step.worker_rss_mb} MB (${step.rss_bytes_per_idle_actor} B per idle actor), heap ${step.bytes_per_idle_actor} B per idle actor (${step.marginal_bytes_per_idle_actor ?? "-"} B per actor over the previous step), checkpoint max ${step.checkpoint_bytes_per_shard.max} B per shard, whole cluster ${step.idle_cpu_cores} cores ${JSON.stringify(step.idle_cpu_cores_by_process)}, shards meanwhile ${JSON.stringify(step.idle_work)}`)
        for (const f of simFiles) rmSync(`${f}.pause`, { force: true })

        // Every gateway at once (all n devices reconnect), each started again on its port.
        say(`killing the ${gateways.length} gateway process(es) (SIGKILL) and starting them again`)
        const killedAt = Date.now()
        // Every process but the gateways, which are replaced (theirs is read from the new ones).
        const kept = { worker: [worker.proc.pid], nats: [ns.pid], clickhouse: [ch.pid], sims: sims.map((x) => x.proc.pid) }
        const rc0 = groupsCpuMs(kept)
        const attempts0 = sumSims("attempts")
        const workerOut0 = worker.output().length
        await Promise.all(gateways.map((g) => g.child.kill("SIGKILL")))
        await waitFor("devices to notice", () => sumSims("connected") < n / 2, { timeoutMs: 10_000, intervalMs: 100 }).catch(() => {})
        await Promise.all(gateways.map(async (g) => (g.child = await startGateway(g.port))))
        let maxLag = 0
        /**
         * The largest shard lag and the devices connected, per 5 s since the kill (shown with the
         * result); `lag` stays null while every stats request of the slot failed (a starved worker
         * answering late), so such a slot reads "?" rather than 0.
         */
        const lagBy5s: Array<{ lag: number | null; connected: number }> = []
        const back = await waitFor(`${n} devices reconnected`, async () => {
          const shards = await stats().catch(() => undefined)
          const lag = shards?.reduce((a, s) => Math.max(a, s.pendingBatches ?? 0), 0)
          const connected = sumSims("connected")
          const slot = (lagBy5s[Math.floor((Date.now() - killedAt) / 5_000)] ??= { lag: null, connected })
          slot.connected = connected
          if (lag !== undefined) [maxLag, slot.lag] = [Math.max(maxLag, lag), Math.max(slot.lag ?? 0, lag)]
          return connected >= n
        }, { timeoutMs: reconnectWaitMs(n), intervalMs: 250 }).then(() => true, () => false)
        step.reconnect_max_lag_batches = maxLag
        say(`largest shard lag (batches) / devices connected, per 5 s since the kill: ${lagBy5s.map((x, i) => `${i * 5}s ${x ? `${x.lag ?? "?"}/${x.connected}` : "-"}`).join(", ")}`)
        const ev = scanNodeEvents([worker.output().slice(workerOut0)])
        ;[step.reconnect_worker_events, step.reconnect_worker_event_first, step.reconnect_worker_max_stall_ms] = [ev.events, ev.first, ev.maxStallMs]
        // The killed gateways' CPU is gone with them: the restarted ones count from their start.
        const rcMs = { gateway: processesCpuMs(gateways.map((g) => g.child.proc.pid)), ...groupsCpuMsSince(kept, rc0) }
        const rc = reconnectCpu(rcMs, n, cpus().length)
        step.reconnect_cpu_ms_per_device = rc.ms_per_device_by_process
        step.reconnect_s_server_cpu_bound = rc.server_cpu_bound_s
        step.reconnect_s_cpu_bound = rc.cpu_bound_s
        step.handshake_timeouts = sumSims("handshake_timeouts")
        step.reconnect_attempts_per_device = r1((sumSims("attempts") - attempts0) / n)
        step.reconnect_refused_lagging = gateways.reduce((a, g) => a + refusedIn(g.child.output(), "cluster_lagging"), 0)
        if (back) step.reconnect_s = r1((Date.now() - killedAt) / 1000)
        else step.misses.push(`only ${sumSims("connected")} of ${n} devices reconnected within ${reconnectWaitMs(n) / 1000} s of the kill`)
        say(`reconnected: ${step.reconnect_s ?? "no"} s after the kill (max shard lag ${maxLag} batches); CPU ms per device ${JSON.stringify(step.reconnect_cpu_ms_per_device)}: the server side alone would take ${step.reconnect_s_server_cpu_bound} s of ${cpus().length} cores; worker events ${JSON.stringify(ev.events)}; refused at accept while a shard lagged: ${step.reconnect_refused_lagging}; connection attempts per device ${step.reconnect_attempts_per_device}`)
        if (step.bytes_per_connection !== null && step.bytes_per_connection > goals.bytes_per_connection) step.misses.push(`bytes_per_connection ${step.bytes_per_connection} > ${goals.bytes_per_connection}`)
        if (step.bytes_per_idle_actor !== null && step.bytes_per_idle_actor > goals.bytes_per_idle_actor) step.misses.push(`bytes_per_idle_actor ${step.bytes_per_idle_actor} > ${goals.bytes_per_idle_actor} `)
        if (maxLag > lagBound) step.misses.push(`the largest shard lag during the reconnect, ${maxLag} batches, was above the lag bound (${lagBound}: api.readyMaxLagBatches, past which /readyz fails)`)
        if (step.reconnect_s !== null && n >= 100_000 && step.reconnect_s > goals.reconnect_s) step.misses.push(reconnectMiss(step.reconnect_s, rc, goals.reconnect_s))
        if (step.misses.length > 0) say(`misses: ${step.misses.join("; ")}`)
      }
      const reached = steps.filter((s) => s.connect_s !== null).at(-1)
      // Memory against devices, for docs/benchmarks.md (regenerated by every run).
      const plot = join(root, "docs", "img", "scale-memory.png")
      const kb = (f: (s: Step) => number | null) => steps.flatMap((s) => (f(s) === null ? [] : [[s.devices, f(s)! / 1024] as const]))
      writeChartPng(plot, {
        title: "ops bench scale: memory per device (KB)", x: "devices", y: "KB per device",
        series: [
          { name: "gateway RSS / connection", points: kb((s) => s.bytes_per_connection) },
          { name: "worker heap / active actor", points: kb((s) => s.bytes_per_active_actor) },
          { name: "worker heap / idle actor", points: kb((s) => s.bytes_per_idle_actor) },
          { name: "worker RSS / idle actor", points: kb((s) => s.rss_bytes_per_idle_actor) },
        ],
        marks: [{ label: "goal: connection", y: goals.bytes_per_connection / 1024 }, { label: "goal: idle actor", y: goals.bytes_per_idle_actor / 1024 }],
      })
      say(`plot: ${plot}`)
      return {
        devices: reached?.devices ?? 0,
        bytes_per_idle_actor: reached?.bytes_per_idle_actor ?? null,
        marginal_bytes_per_idle_actor: reached?.marginal_bytes_per_idle_actor ?? null,
        bytes_per_active_actor: reached?.bytes_per_active_actor ?? null,
        rss_bytes_per_idle_actor: reached?.rss_bytes_per_idle_actor ?? null,
        bytes_per_connection: reached?.bytes_per_connection ?? null,
        reconnect_s: reached?.reconnect_s ?? null,
        reconnect_max_lag_batches: reached?.reconnect_max_lag_batches ?? null,
        reconnect_cpu_ms_per_device: reached?.reconnect_cpu_ms_per_device ?? null,
        reconnect_s_server_cpu_bound: reached?.reconnect_s_server_cpu_bound ?? null,
        reconnect_s_cpu_bound: reached?.reconnect_s_cpu_bound ?? null,
        reconnect_attempts_per_device: reached?.reconnect_attempts_per_device ?? null,
        handshakes_per_s: reached?.handshakes_per_s ?? null,
        checkpoint_bytes_per_shard: reached?.checkpoint_bytes_per_shard ?? null,
        snapshot_bytes_per_actor: reached?.snapshot_bytes_per_actor ?? null,
        idle_cpu_cores: reached?.idle_cpu_cores ?? null,
        total_rate: totalRate, actor_idle_ms: actorIdleMs, partitions: 16,
        worker_own_scheduling_group: autogroup,
        steps,
        goals,
        plot: "docs/img/scale-memory.png",
        misses: steps.flatMap((s) => s.misses.map((m) => `${s.devices}: ${m}`)),
      }
    } finally {
      for (const s of sims) await s.kill(nodeStopSignal()).catch(() => {})
      for (const c of children) await c.kill(nodeStopSignal()).catch(() => {})
      await nc.close().catch(() => {})
      await Promise.all([ns.cleanup(), ch.cleanup()])
    }
  },
}
export default benchmark
