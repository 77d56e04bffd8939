/**
 * `ops loadgen`: the fleet simulator. N devices over real mTLS at R readings/s each with driving
 * signals and scenario anomalies; resends unacknowledged readings after reconnecting (failing over
 * between `--gateways`); progress on stderr; sent / acked / resent / rejected and ack latency at
 * the end. Defaults: the reference fleet (1,000 buses × 2 Hz × 48 fields) against `gateway.port`.
 */
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { loadDeviceSchema } from "../../config/device-schema.ts"
import { loadConfig } from "../../config/index.ts"
import { runFleet } from "../loadgen/fleet.ts"
import { attempt, usage } from "../lib/cli/errors.ts"
import { jsonFlag } from "../lib/cli/flags.ts"
import { keyValues } from "../lib/table.ts"
import { loadScenario, parseDuration, referenceScenario, type Scenario } from "../loadgen/scenario.ts"

export const loadgen = Command.make(
  "loadgen",
  {
    scenario: Flag.String("scenario").pipe(Flag.withDescription("scenario YAML (devices, rate, duration, format, anomalies)"), Flag.optional),
    devices: Flag.Int("devices").pipe(Flag.withDescription("number of devices (default 1000)"), Flag.optional),
    rate: Flag.Finite("rate").pipe(Flag.withDescription("readings/s per device (default 2)"), Flag.optional),
    duration: Flag.String("duration").pipe(Flag.withDescription("e.g. 60s, 5m (default 60s)"), Flag.optional),
    format: Flag.Literals("format", ["json", "csv", "msgpack"]).pipe(Flag.optional),
    prefix: Flag.String("prefix").pipe(Flag.withDescription("device id prefix (default bus-)"), Flag.optional),
    gateways: Flag.String("gateways").pipe(Flag.withDescription("host:port[,host:port…] (default gateway.host:gateway.port)"), Flag.optional),
    certDir: Flag.String("cert-dir").pipe(Flag.withDescription("certificates from `ops certs` (default gateway.certDir)"), Flag.optional),
    refresh: Flag.Int("refresh").pipe(Flag.withDescription("recompute signals every N readings per device, re-using the encoded values in between (load tests; CSV only; default 1)"), Flag.optional),
    firstSeq: Flag.Finite("first-seq").pipe(Flag.withDescription("seq of every device's first reading (default: the clock in ms, so a re-run continues after the previous one up to 1,000 readings/s per device; akis drops a seq it already has as a duplicate)"), Flag.optional),
    ranges: Flag.Boolean("ranges").pipe(Flag.withDescription("add each device's sent and acked seq ranges to the result (for checks that compare sets)"), Flag.withDefault(false)),
    json: jsonFlag,
  },
  Effect.fn(function* (f) {
    const { config, schema, base } = yield* attempt(() => {
      const config = loadConfig()
      const schema = config.gateway.deviceSchema ? loadDeviceSchema(config.gateway.deviceSchema) : loadDeviceSchema()
      const base: Scenario = Option.match(f.scenario, { onNone: () => referenceScenario, onSome: (p) => loadScenario(p, schema) })
      return { config, schema, base }
    })
    const scenario: Scenario = {
      ...base,
      devices: Option.getOrElse(f.devices, () => base.devices),
      rate: Option.getOrElse(f.rate, () => base.rate),
      duration: Option.match(f.duration, { onNone: () => base.duration, onSome: parseDuration }),
      format: Option.getOrElse(f.format, () => base.format),
      prefix: Option.getOrElse(f.prefix, () => base.prefix),
    }
    const refresh = Option.getOrElse(f.refresh, () => 1)
    const firstSeq = Option.getOrElse(f.firstSeq, () => Date.now())
    const bad = (refresh < 1 && `--refresh must be 1 or more (got ${refresh})`) || (refresh > 1 && scenario.format !== "csv" && `--refresh needs --format csv (got ${scenario.format})`)
      || (!(Number.isSafeInteger(firstSeq) && firstSeq >= 0) && `--first-seq must be a whole number ≥ 0 (got ${firstSeq})`)
    yield* usage(bad)
    const addresses = Option.getOrElse(f.gateways, () => `${config.gateway.host}:${config.gateway.port}`).split(",").map((a) => {
      const i = a.lastIndexOf(":")
      return { host: a.slice(0, i), port: Number(a.slice(i + 1)) }
    })
    yield* Console.error(`loadgen: ${scenario.devices} devices × ${scenario.rate}/s × ${schema.fields.length} fields (${scenario.format}) for ${scenario.duration}s → ${addresses.map((a) => `${a.host}:${a.port}`).join(", ")}; ${scenario.anomalies.length} anomalies`)
    const fleet = runFleet({
      scenario, schema, addresses, refresh, firstSeq, ranges: f.ranges, certDir: Option.getOrElse(f.certDir, () => config.gateway.certDir),
      progress: (l) => process.stderr.write(`loadgen: ${l}\n`),
    })
    const print = (r: Awaited<typeof fleet.done>) => Console.log(f.json ? JSON.stringify(r) : keyValues(r))
    // Ctrl-C / SIGTERM interrupt the command: the fleet stops and what it sent so far is still printed.
    const r = yield* Effect.promise(() => fleet.done).pipe(
      Effect.onInterrupt(() => Effect.promise(() => (fleet.stop(), fleet.done)).pipe(Effect.flatMap(print))),
    )
    yield* print(r)
  }),
).pipe(Command.withDescription("simulate a device fleet over mTLS (default: 1,000 buses × 2 Hz × 48 fields)"))
