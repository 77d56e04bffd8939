import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { loadConfig } from "../../config/index.ts"
import { makeClickHouseStore } from "../../actors/sink/index.ts"
import { attempt, UsageError } from "../lib/cli/errors.ts"
import { capacityChart, capacityTable, formatBytes, projectCapacity } from "../lib/capacity.ts"

/**
 * Bytes per stored reading when no ClickHouse is reachable: measured by `ops bench sink` on
 * 18.16 with synthetic two-decimal readings of the 48-field bus schema (telemetry + rollup),
 * docs/benchmarks-history.md. Real, slowly changing signals compress better, so this errs high.
 */
export const defaultBytesPerRow = 200

/**
 * Measures bytes per telemetry row (rollup included) from `system.parts` of a live ClickHouse;
 * undefined when it is unreachable or holds fewer than `minRows` rows (too few to be meaningful).
 */
export const measureBytesPerRow = async (
  url: string, user = "default", password = "", database = "default", minRows = 10_000,
): Promise<{ bpr: number; rows: number } | undefined> => {
  if (url.startsWith("chdb:")) return undefined
  const store = makeClickHouseStore({ url, user, password, database, requestTimeoutMs: 2000 })
  try {
    const [r] = await store.query<{ bytes: number; rows: number }>(
      "SELECT sumIf(bytes_on_disk, table IN ('telemetry', 'telemetry_1m')) AS bytes, sumIf(rows, table = 'telemetry') AS rows " +
        "FROM system.parts WHERE active AND database = currentDatabase()",
    )
    return r && r.rows >= minRows ? { bpr: r.bytes / r.rows, rows: r.rows } : undefined
  } catch {
    return undefined
  } finally {
    await store.close()
  }
}

/** `ops capacity`: the reference paper's storage projection, per year, with a 75 % fill ceiling. */
export const capacity = Command.make(
  "capacity",
  {
    devices: Flag.Int("devices").pipe(Flag.withDescription("devices at the start")),
    growth: Flag.Int("growth-per-month").pipe(Flag.withDescription("devices added per month"), Flag.withDefault(0)),
    rate: Flag.Finite("rate").pipe(Flag.withDescription("readings per second per device"), Flag.withDefault(2)),
    hours: Flag.Finite("hours").pipe(Flag.withDescription("operating hours per day"), Flag.withDefault(24)),
    replicas: Flag.Int("replicas").pipe(Flag.withDescription("copies of the data"), Flag.withDefault(1)),
    years: Flag.Int("years").pipe(Flag.withDescription("years to project"), Flag.withDefault(3)),
    fill: Flag.Finite("fill").pipe(Flag.withDescription("disk fill ceiling (0-1)"), Flag.withDefault(0.75)),
    bytesPerRow: Flag.Finite("bytes-per-row").pipe(Flag.withDescription("override the measured bytes per reading"), Flag.optional),
    retentionDays: Flag.Int("retention-days").pipe(Flag.withDescription("days kept (0 = everything)"), Flag.withDefault(0)),
    url: Flag.String("url").pipe(Flag.withDescription("ClickHouse to measure bytes/row from (default: config clickhouse.url)"), Flag.optional),
    chart: Flag.Boolean("chart").pipe(Flag.withDescription("draw an ASCII chart of the disk needed"), Flag.withDefault(true)),
  },
  Effect.fn(function* (f) {
    const bad = [
      f.devices < 0 && "--devices must be ≥ 0", f.growth < 0 && "--growth-per-month must be ≥ 0", !(f.rate > 0) && "--rate must be > 0",
      !(f.hours > 0 && f.hours <= 24) && "--hours must be in (0, 24]", f.replicas < 1 && "--replicas must be ≥ 1",
      !(f.years >= 1 && f.years <= 50) && "--years must be in [1, 50]", !(f.fill > 0 && f.fill <= 1) && "--fill must be in (0, 1]",
      f.retentionDays < 0 && "--retention-days must be ≥ 0",
    ].filter((x): x is string => typeof x === "string")
    if (bad.length > 0) return yield* new UsageError({ message: bad.join("\n") })
    const cfg = (yield* attempt(() => loadConfig())).clickhouse
    const override = Option.getOrUndefined(f.bytesPerRow)
    const measured = override === undefined
      ? yield* Effect.promise(() => measureBytesPerRow(Option.getOrElse(f.url, () => cfg.url), cfg.user, cfg.password, cfg.database))
      : undefined
    const bytesPerRow = override ?? measured?.bpr ?? defaultBytesPerRow
    const source = override !== undefined ? "given with --bytes-per-row"
      : measured ? `measured from system.parts (${measured.rows.toLocaleString("en-US")} rows)`
      : `default (no reachable ClickHouse with ≥ 10,000 telemetry rows; see docs/benchmarks.md)`
    const years = projectCapacity({
      devices: f.devices, growthPerMonth: f.growth, rate: f.rate, hours: f.hours, replicas: f.replicas, years: f.years, bytesPerRow,
      fill: f.fill, retentionDays: f.retentionDays,
    })
    yield* Console.log(
      `${f.devices} devices + ${f.growth}/month, ${f.rate} readings/s each, ${f.hours} h/day, ${f.replicas} replica(s), ` +
        `${f.retentionDays > 0 ? `${f.retentionDays} days kept` : "everything kept"}, disks filled to ${Math.round(f.fill * 100)} %\n` +
        `bytes per reading: ${bytesPerRow.toFixed(1)} (${source}); per device-day: ${formatBytes(bytesPerRow * f.rate * 3600 * f.hours)}\n`,
    )
    yield* Console.log(capacityTable(years))
    if (f.chart) yield* Console.log(`\ndisk needed at the end of each year\n${capacityChart(years)}`)
  }),
).pipe(Command.withDescription("project ClickHouse storage per year from fleet size, growth, rate, hours/day and replicas"))
