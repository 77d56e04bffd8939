/**
 * Writes docs/benchmarks.md from the results `ops/bench-all` saved (docs/bench-results/*.json):
 * every figure in the page comes from one of those runs, next to the command that produced it.
 * The prose here explains what is measured and carries no figures of its own.
 *
 * `ops bench-all --report-only [--out results-dir]` rewrites the page without running anything.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"

const root = resolve(import.meta.dir, "..", "..")

/** What one saved run holds: the command, when and where it ran, and the benchmark's JSON. */
export interface SavedRun {
  readonly name: string
  readonly command: string
  readonly started: string
  readonly seconds: number
  readonly commit: string
  readonly machine: { readonly cpus: number; readonly load_before: number[]; readonly load_after: number[] }
  readonly result: Record<string, unknown>
}

/** Every benchmark in page order, with the settings `ops/bench-all` uses (full) and for `--short`. */
export const benchPlans: Record<string, { full: string[]; short: string[] }> = {
  e2e: { full: [], short: ["--step-seconds", "10", "--ref-seconds", "25", "--rates", "2000,4000"] },
  ingest: { full: ["--runs", "3"], short: ["--runs", "1", "--seconds", "2"] },
  sink: { full: ["--runs", "3"], short: ["--runs", "1"] },
  rules: { full: ["--runs", "5"], short: ["--runs", "1"] },
  checkpoint: { full: ["--runs", "5"], short: ["--runs", "2"] },
  failover: { full: ["--runs", "3"], short: ["--runs", "1"] },
  // Fixed durations (no short settings): a few minutes each.
  "ack-modes": { full: [], short: [] },
  notify: { full: [], short: [] },
  api: { full: [], short: [] },
  rollup: { full: ["--runs", "5"], short: ["--runs", "1"] },
  scale: { full: [], short: ["--max-devices", "1000"] },
  ui: { full: [], short: [] },
}

/** The command `ops/bench-all` runs for `name`. */
export const benchCommand = (name: string, short = false): string[] =>
  ["bun", "run", "ops", "bench", name, "--json", ...(short ? benchPlans[name]!.short : benchPlans[name]!.full)]

const about: Record<string, string> = {
  ui:
    "The dashboard in Debian's chromium with the reference fleet (1,000 buses × 2 Hz) running: time to first render of the fleet page, and main-thread CPU time per live update from a Chrome trace (goal p95 ≤ 16 ms).",
  api:
    "nats-server, ClickHouse (nice 10), as many nodes [worker, gateway, api] as `ops/up` starts (one per core, 2–3; P = 16), the reference fleet running throughout, nginx in " +
    "front (HTTPS, balanced over the nodes), `wrk` per route; only 2xx answers count as throughput. Live state is measured at 8, 16 and 32 connections " +
    "(`live_state_sweep`); the headline is the concurrency with the most requests/s whose p99 meets 20 ms, and nginx is measured at that concurrency.",
  rollup:
    "One private ClickHouse: the same sink-encoded rows inserted into a copy of `telemetry` with the old materialized view feeding " +
    "the rollup and into one without it, the periodic rollup job run after; server CPU and rows/s of each, medians of `--runs`.",
  scale:
    "The fleet ladder 1k → 10k → 50k → 100k simulated mTLS devices (capped by `--max-devices`; simulator processes of ≤ 10k devices " +
    "at normal priority, 1,000 readings/s in all) against gateway processes of ≤ 18,000 connections each (this machine's open-file " +
    "limit is 20,000 per process) and one worker node (16 shards, the default rule pack, actors passivated after 15 s idle; in a session of its own, " +
    "so that with the kernel's autogroup it is scheduled as a group of its own, as a service of its own would be: `worker_own_scheduling_group`): memory " +
    "per connection and per device actor, handshakes/s, checkpoint bytes per shard, the idle cluster's CPU, and the reconnect: every " +
    "gateway killed (SIGKILL) and restarted, seconds until every device is connected again, the largest shard lag meanwhile (lag bound: " +
    "`api.readyMaxLagBatches`, 1,000), the CPU per reconnected device by process (`sims` = the devices' half of each handshake) and " +
    "`reconnect_s_server_cpu_bound` = the server side's CPU ÷ cores, an estimate of the reconnect with the devices' half off this machine; " +
    "`reconnect_worker_events`: what the worker logged during the reconnect that is not routine (`shard.unhealthy`: its heartbeats were late " +
    "and it paused its shards; `node.stalled`: its event loop ran ≥ 1 s late, longest in `reconnect_worker_max_stall_ms`); " +
    "`reconnect_refused_lagging`: new connections the gateways refused because a shard lagged (0 unless `gateway.admitMaxLagBatches` is set; off by default); " +
    "`reconnect_attempts_per_device`: connection attempts per device from the kill until all were back (the first tries land while the gateways restart); " +
    "`reconnect_s_cpu_bound`: the reconnect's CPU of every process, the simulators included, ÷ cores (near `reconnect_s` when the reconnect is CPU-bound). " +
    "`misses` names each goal missed with the reason the run's own figures give.",
  "ack-modes":
    "200 devices × 50 readings/s = 10,000 48-field CSV readings/s offered (open loop), a fresh gateway process per ACK mode, " +
    "2 s warm-up, 8 s measured; every reading checked durable afterwards. Gateway CPU and downstream bytes per reading per mode " +
    "(docs/gateway.md explains the modes).",
  notify:
    "Part 1: 5,000 transitions on distinct devices through one in-process notifier (default settings) to a local webhook receiver. " +
    "Part 2: the e2e reference load with 3 nodes (worker + gateway + notifier), rounds alternating the interpreter " +
    "off / on (an Ollama-compatible server taking 5 s per answer, no cache); reading-to-alert latency as in `bench e2e`, pooled per mode.",
  failover:
    "3 counting-actor nodes, P = 16, default timing (heartbeat 1 s, suspicion 3 s, checkpoint 5 s), readings to every shard every 20 ms. " +
    "*crash*: SIGKILL one node, time until every one of its shards processed a batch on its new owner. *planned*: SIGTERM (drain) one node, " +
    "the worst shard's pause from the old owner stopping intake to the new owner's first batch. Medians over `--runs`.",
  sink:
    "A private ClickHouse 18.16: the same 100,000 synthetic 48-field readings inserted through the sink (its binary format: Native " +
    "since 2026-11-26, RowBinary before) and through ordinary @clickhouse/client paths (JSON, TSV, CSV, RowBinary). The **ceiling** is the very bodies the sink sent in a run, recorded on " +
    "their way and inserted again through the same store with the same concurrency right after that run (so `ratio` = " +
    "sink ÷ ceiling ≤ 1 up to noise). CPU per 100k rows: ours from `process.cpuUsage`, the server's from /proc. Then one device-day " +
    "and the history query times (median of 7). Rates are medians of `--runs` with the slowest and fastest run (`*_spread`).",
  ingest:
    "One gateway process, 200 mTLS devices in a closed loop (64 unacked readings each), 48-field readings, nats-server R1. Each run " +
    "measures, one after the other, the TLS line echo ceiling (same clients and certificates, a listener that only cuts lines and acks), " +
    "the gateway (CSV, then JSON and msgpack) and raw JetStream publish of batches of the size the gateway produced. Figures are " +
    "medians over `--runs` with their spread; ratios are taken per run, then their median.",
  rules:
    "The device actor with the default rule pack on one core: every reading through `onReading` (dedup, lateness, windows, trackers, " +
    "all rules) with a no-op sink; 1,000 devices interleaved as in a shard's batches, and 100 devices.",
  checkpoint:
    "A shard's checkpoint with the default rule pack after 10 min of readings: snapshot, pack, write (object store when large), the " +
    "longest event-loop stall, restore. Medians of `--runs` after a warm-up.",
  e2e:
    "The whole pipeline on one machine: nats-server, ClickHouse 18.16 (niceness 10, as `ops/up` runs it), `nodes` node processes (worker + gateway; as many as `ops/up` starts: one per core, 2–3), " +
    "the simulator over mTLS (niceness 10) with the default rule pack, P = 16. **Phase 1**, the reference load (200 buses × 10 Hz = " +
    "2,000 readings/s): reading-to-alert latency = JetStream time of the alert − gateway receive time of the first reading of the reading's batch (the gateway's batching wait counts in full), over **every** " +
    "alert raised by a reading; the alerts of the first `warmup_s` are also reported apart (`warmup_*`), and " +
    "`p99_alert_after_warmup_ms` leaves them out. `reference_cpu_cores`: CPU of every process of the stack (nodes, NATS, ClickHouse, " +
    "simulator) over the steady part of phase 1 (from `warmup_s` + 2 s to 1 s before the simulator stops: `reference_cpu_window_s`) ÷ that window; " +
    "`reference_cpu_cores_whole_run` over all of phase 1; `idle_cpu_cores`: the same processes (without a simulator) over 10 s before phase 1, with no device connected; `reference_nats_msgs_per_reading`: nats-server's messages in and out (`/varz`) per acked reading, same window (and each ramp step's `nats_msgs_per_reading`, per reading stored). **Phase 2**, a ramp of offered loads, `step_seconds` each (each starting once the stored count has not moved for `sink.flushMs` + 2 s: nothing of the step before is still being stored), until a step is not " +
    "sustained, then one step halfway between the last sustained step and that one (rounded to 1,000/s; when they are ≥ 10,000/s apart). Sustained = neither queue grew from the middle of the step to its end: the devices' readings sent and not yet acked " +
    "(`unacked_mid` → `unacked_end`, from the simulator; slack: one second of the offered load; and at most one second of it at the end, so devices wait about a second for an ACK at most) and the lag (acked − stored; slack: one second of the offered load, or one sink batch per node " +
    "(`sink.batchRows` × nodes) if more, as the stored count moves in whole inserts), each the mean over windows of 10 % of the step, at least 6 s; the readings stored per second (mean stored count over " +
    "the end window minus that over the middle window, over the distance of their centres) reach 90 % of the offered load, and every acked reading is stored within 60 s after. `readings_per_s` = " +
    "the lower of stored/s and acked/s of the highest sustained step (a sustained step stores what it acks; the stored estimate alone can overshoot that by a few % when a large insert lands at a window's edge). `lost`, `duplicates` (as `FINAL` queries see them) and `duplicate_rows_written` (an " +
    "audit view that merges cannot shrink) compare sets of (device, seq) with what the simulator had acknowledged. `node_events`: how often the nodes logged an event that is not routine (errors, failures, shard resets and fencing: a reset replays readings from the shard's checkpoint, which writes rows twice), `node_event_first` the first such line of each kind; `node_max_stall_ms`: the longest a node's event loop was blocked (`node.stalled`: a 250 ms timer ≥ 1 s late), (heartbeats come from a thread of their own and stop only once the loop has not turned for `node.watchdogMs`, 5 s). " +
    "`misses`: each goal of `targets` the run missed, with the reason its own figures give (for the reference CPU: what the processes other than the nodes used by themselves, and the nodes' CPU per reading against the highest sustained step).",
}

const fmt = (v: unknown): string =>
  typeof v === "number" ? (Number.isInteger(v) ? v.toLocaleString("en-US") : String(v))
  : Array.isArray(v) ? v.map(fmt).join(" – ")
  : v === null || v === undefined ? "–"
  : typeof v === "object" ? Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k} ${fmt(x)}`).join(", ")
  : String(v)

const table = (r: Record<string, unknown>, skip: ReadonlyArray<string> = []): string =>
  ["| figure | value |", "|---|---|", ...Object.entries(r).filter(([k]) => !skip.includes(k)).map(([k, v]) => `| \`${k}\` | ${fmt(v)} |`)].join("\n")

const rampColumns = ["offered", "acked_per_s", "ack_p99_ms", "stored_per_s", "lag_mid", "lag_end", "unacked_mid", "unacked_end", "catch_up_s", "sustained", "reason", "cpu_s_per_100k"]

/** Steps as a table: e2e's ramp columns, or (scale's fleet sizes) every key of the first step. */
const stepsTable = (steps: ReadonlyArray<Record<string, unknown>>, ramp: boolean): string => {
  const cols = ramp ? rampColumns : Object.keys(steps[0] ?? {})
  return [`| ${cols.join(" | ")} |`, `|${cols.map(() => "---").join("|")}|`, ...steps.map((s) => `| ${cols.map((c) => fmt(s[c])).join(" | ")} |`)].join("\n")
}

/** The page for a set of saved runs. Pure. */
export const renderReport = (runs: ReadonlyArray<SavedRun>): string => {
  const out: string[] = [
    "# Benchmarks",
    "",
    "Generated by `ops/bench-all` (which runs each command below, then writes this page from their results; `ops bench-all --report-only` rewrites it from the saved results); do not edit by hand.",
    "Every figure is from the run whose command, commit, time and machine load are given with it; the JSON each run printed is",
    "kept in `docs/bench-results/`. Earlier measurements and how the code got here: [benchmarks-history.md](benchmarks-history.md).",
    "",
  ]
  for (const name of Object.keys(benchPlans)) {
    const r = runs.find((x) => x.name === name)
    out.push(`## ${name}`, "")
    if (!r) {
      out.push(`\`${benchCommand(name).join(" ")}\` — **not measured yet** on the current code: run \`ops/bench-all\` on a quiet machine.`, "")
      if (about[name]) out.push(about[name]!, "")
      continue
    }
    out.push(`\`${r.command}\` — commit ${r.commit}, ${r.started}, ${r.seconds} s, ${r.machine.cpus} CPUs, ` +
      `load average ${r.machine.load_before.map((x) => x.toFixed(2)).join("/")} before, ${r.machine.load_after.map((x) => x.toFixed(2)).join("/")} after.`, "")
    if (about[name]) out.push(about[name]!, "")
    // Lists of rows (e2e's ramp, scale's fleet sizes, api's live-state sweep) become tables of their own.
    const tabular = Object.keys(r.result).filter((k) => {
      const v = r.result[k]
      return Array.isArray(v) && v.length > 0 && typeof v[0] === "object" && v[0] !== null
    })
    out.push(table(r.result, ["steps", ...tabular]), "")
    if (Array.isArray(r.result.steps)) {
      const ramp = name === "e2e"
      out.push(ramp ? "Ramp steps (CPU s per 100k readings stored, by process group):" : "Steps:", "", stepsTable(r.result.steps as Array<Record<string, unknown>>, ramp), "")
    }
    for (const k of tabular.filter((k) => k !== "steps")) out.push(`\`${k}\`:`, "", stepsTable(r.result[k] as Array<Record<string, unknown>>, false), "")
    if (name === "e2e" && Array.isArray(r.result.steps)) out.push("![readings/s against offered load](img/e2e-throughput.png)", "", "![device ACK p99 against offered load](img/e2e-latency.png)", "")
  }
  return out.join("\n")
}

/** Writes the page `file` from the results saved in `dir`; the number of results it found. */
export const writeReport = (dir = join(root, "docs", "bench-results"), file = join(root, "docs", "benchmarks.md")): number => {
  const runs = Object.keys(benchPlans).map((n) => join(dir, `${n}.json`)).filter((p) => existsSync(p)).map((p) => JSON.parse(readFileSync(p, "utf8")) as SavedRun)
  writeFileSync(file, renderReport(runs))
  return runs.length
}
