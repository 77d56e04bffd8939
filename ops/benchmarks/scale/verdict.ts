/**
 * `ops bench scale`'s figures of one fleet size and the pure parts of its verdict: refusals read
 * from a gateway's output, the reconnect's CPU by process, and the reconnect miss with its reason.
 */
/** Rounded to one decimal, as the scale bench reports its figures. */
export const r1 = (x: number) => Math.round(x * 10) / 10

/** One fleet size's figures. */
export interface Step {
  devices: number
  sims: number
  /** Gateway processes the fleet is spread over (their open-file limit caps each). */
  gateways: number
  /** TLS handshakes the simulated devices gave up on after 10 s (and retried), connect and reconnect. */
  handshake_timeouts: number | null
  connected: number
  connect_s: number | null
  handshakes_per_s: number | null
  gateway_rss_mb: number
  worker_rss_mb: number
  bytes_per_connection: number | null
  /**
   * Worker JS heap after a full GC, growth over the baseline / N, right after the fleet connected
   * (`actors_connected`: with devices reading every N ÷ total_rate s, those whose last reading is
   * older than actor_idle_ms are passivated by then, so at 50k and more this mixes both kinds).
   */
  bytes_per_active_actor: number | null
  actors_connected: { live: number; passivated: number } | null
  bytes_per_idle_actor: number | null
  /**
   * Heap growth per idle actor from the previous step to this one (idle heap vs idle heap): free
   * of whatever the baseline held and later dropped (a few MB, which made the per-N figure read
   * low at 1k and the fleet size seem to matter).
   */
  marginal_bytes_per_idle_actor: number | null
  /** Worker JS heap after GC with every actor passivated, MB. */
  worker_idle_heap_mb: number
  /** Worker RSS growth / N (what the OS holds: includes freed heap not returned). */
  rss_bytes_per_active_actor: number | null
  rss_bytes_per_idle_actor: number | null
  actors: { live: number; passivated: number }
  checkpoint_bytes_per_shard: { max: number; mean: number }
  /** Checkpoint bytes / actors: the snapshot a passivated actor is kept as. */
  snapshot_bytes_per_actor: number | null
  idle_cpu_cores: number | null
  /** The idle-cluster cores by process, to see which one grows with the fleet. */
  idle_cpu_cores_by_process: Record<string, number>
  /** What the worker's shards did during that idle window (all 0 when truly idle): a timer wave (device_silent) shows as wakeups. */
  idle_work: Record<string, number>
  reconnect_s: number | null
  reconnect_max_lag_batches: number | null
  /**
   * CPU per reconnected device during the reconnect (kill → every device connected), ms, by
   * process group: `sims` is the devices' own half of each mTLS handshake, which real devices do
   * on their own CPUs.
   */
  reconnect_cpu_ms_per_device: Record<string, number>
  /**
   * The reconnect's server-side CPU (gateways, worker, NATS, ClickHouse) ÷ this machine's cores:
   * how long the reconnect would take on these cores if the devices' half ran elsewhere (an
   * estimate from measured CPU, not a measured time; a lower bound if the work parallelised).
   */
  reconnect_s_server_cpu_bound: number | null
  /**
   * The same with every process of the bench, the simulators included: near `reconnect_s` when
   * the reconnect is CPU-bound on this machine.
   */
  reconnect_s_cpu_bound: number | null
  /** What the worker logged during the reconnect that is not routine (resets, failures, stalls), and its longest event-loop stall, ms. */
  reconnect_worker_events: Record<string, number>
  reconnect_worker_event_first: Record<string, string>
  reconnect_worker_max_stall_ms: number | null
  /**
   * New connections the restarted gateways refused at accept during the reconnect because a shard
   * lagged past `gateway.admitMaxLagBatches` (the devices retried after their back-off).
   */
  reconnect_refused_lagging: number | null
  /**
   * Connection attempts per device from the kill until every device was connected: 1 when each
   * device got in at its first try after noticing the loss; more while the gateways were still
   * starting (refused connects) or handshakes timed out.
   */
  reconnect_attempts_per_device: number | null
  misses: string[]
}

/** Connections refused at accept for `reason`, from a gateway's per-second summaries ("refused new connections in the last second (cluster_lagging 12, …)"). */
export const refusedIn = (output: string, reason: string): number => {
  let n = 0
  for (const m of output.matchAll(/refused new connections in the last second \(([^)]*)\)/g)) {
    const hit = new RegExp(`(?:^|, )${reason} (\\d+)`).exec(m[1]!)
    if (hit) n += Number(hit[1])
  }
  return n
}

/**
 * The reconnect's CPU figures from its CPU ms by process group (`sims` = the simulated devices):
 * ms per device by group and in all, and how long that CPU takes on `cores` at full use, with
 * every process and with the server side alone.
 */
export const reconnectCpu = (cpuMs: Readonly<Record<string, number>>, devices: number, cores: number) => {
  const perDevice = (ms: number) => Math.round((ms / devices) * 1000) / 1000
  const all = Object.values(cpuMs).reduce((a, ms) => a + ms, 0)
  const server = all - (cpuMs.sims ?? 0)
  return {
    cpu_s: r1(all / 1000),
    ms_per_device: perDevice(all),
    ms_per_device_by_process: Object.fromEntries(Object.entries(cpuMs).map(([k, ms]) => [k, perDevice(ms)])),
    cpu_bound_s: r1(all / 1000 / cores),
    server_cpu_bound_s: r1(server / 1000 / cores),
    cores,
  }
}

/** The reconnect goal's miss with its reason: the CPU it took, that CPU on these cores at full use, and the server side's share alone. */
export const reconnectMiss = (reconnectS: number, c: ReturnType<typeof reconnectCpu>, goalS: number): string =>
  `reconnect_s ${reconnectS} > ${goalS}: CPU-bound, ${c.cpu_s} CPU s over the reconnect ` +
  `(${c.ms_per_device} ms per device: ${Object.entries(c.ms_per_device_by_process).map(([k, ms]) => `${k} ${ms}`).join(", ")}), ` +
  `${c.cpu_bound_s} s of ${c.cores} cores at full use; the devices' half of every mTLS handshake (sims) runs on the same cores, ` +
  `and the server side alone needs ${c.server_cpu_bound_s} s${c.server_cpu_bound_s > goalS ? ", above the goal by itself" : ""}`
