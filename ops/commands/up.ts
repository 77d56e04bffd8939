/**
 * `ops up` (`ops/up`, which installs what is missing first): a local akis with a simulated fleet
 * and a live summary (ops/lib/up.ts). Ctrl-C stops everything; running it again resumes.
 */
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { usage } from "../lib/cli/errors.ts"
import { configFlag } from "../lib/cli/flags.ts"
import { service } from "../lib/cli/service.ts"
import { defaultUpScenario, startUp } from "../lib/up.ts"

const range = (name: string, v: number, min: number, max: number) =>
  usage(!(Number.isFinite(v) && v >= min && v <= max) && `--${name} must be a number from ${min} to ${max} (got '${v}')`)

export const up = Command.make(
  "up",
  {
    nodes: Flag.Int("nodes").pipe(Flag.withDescription("akis nodes (1 to 16; default one per core, 2–3; 1 with the embedded store)"), Flag.optional),
    devices: Flag.Int("devices").pipe(Flag.withDescription("simulated devices (1 to 20,000)"), Flag.withDefault(1000)),
    rate: Flag.Finite("rate").pipe(Flag.withDescription("readings/s per device (0.1 to 100)"), Flag.withDefault(2)),
    duration: Flag.String("duration").pipe(Flag.withDescription("how long the fleet runs, e.g. 1h, 30m"), Flag.withDefault("1h")),
    scenario: Flag.String("scenario").pipe(Flag.withDescription("fleet scenario YAML"), Flag.withDefault(defaultUpScenario)),
    config: configFlag,
    once: Flag.Boolean("once").pipe(Flag.withDescription("stop everything once the fleet is done and what it sent is stored"), Flag.withDefault(false)),
    noProxy: Flag.Boolean("no-proxy").pipe(Flag.withDescription("no nginx in front of the API and the gateways"), Flag.withDefault(false)),
  },
  Effect.fn(function* (f) {
    yield* range("devices", f.devices, 1, 20_000)
    yield* range("rate", f.rate, 0.1, 100)
    const nodes = Option.getOrUndefined(f.nodes)
    if (nodes !== undefined) yield* range("nodes", nodes, 1, 16)
    yield* service(
      () => startUp({ nodes, devices: f.devices, rate: f.rate, duration: f.duration, scenario: f.scenario, config: Option.getOrUndefined(f.config), once: f.once, proxy: !f.noProxy }),
      (s) => s.stop(),
      (s) => s.finished,
    )
  }),
).pipe(Command.withDescription("a local akis with a simulated fleet: ClickHouse, nats-server, N nodes, nginx, the fleet simulator and a live summary"))
