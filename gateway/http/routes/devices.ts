import { deviceIdPattern, historyLimits } from "../../../actors/sink/index.ts"
import { p, required } from "../params.ts"
import { route } from "../route.ts"

const device = required(p.match(deviceIdPattern, "a device id"))
const fieldName = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const day = 86_400_000

/** Devices: list, live state, history, fleet aggregates. */
export const deviceRoutes = [
  route({
    method: "GET", path: "/api/v1/devices", role: "viewer", tag: "devices",
    summary: "Devices with stored readings: id, groups, shard owner, last seen (minute), open alerts",
    query: { limit: p.int(1, 100_000, "most devices returned") },
    handle: async ({ deps, query }) => ({ devices: await deps.devices((query.limit as number | undefined) ?? 10_000) }),
  }),
  route({
    method: "GET", path: "/api/v1/devices/{id}", role: "viewer", tag: "devices",
    summary: "A device's live state from its actor (latest values, window aggregates, open alerts), as `ops actor device/<id>` shows it",
    pathParams: { id: device },
    handle: ({ deps, path }) => deps.liveState(path.id as string),
  }),
  route({
    method: "GET", path: "/api/v1/devices/{id}/history", role: "viewer", tag: "devices",
    summary: "Stored readings of a device in [from, to]: raw rows, or averaged into `points` buckets; any subset of fields",
    pathParams: { id: device },
    query: {
      from: p.time("start of the range (default: to − 1 h)"),
      to: p.time("end of the range, inclusive (default: now)"),
      fields: p.list(fieldName, "field names of the device schema (default: all)"),
      points: p.int(1, historyLimits.maxPoints, "downsample to at most this many buckets (omit for raw rows)"),
      limit: p.int(1, historyLimits.maxRows, "most raw rows"),
      source: p.oneOf(["auto", "raw", "rollup"], "where buckets come from"),
    },
    handle: ({ deps, path, query }) => {
      const to = (query.to as number | undefined) ?? deps.clock.now()
      return deps.readings({
        device: path.id as string, from: (query.from as number | undefined) ?? to - 3_600_000, to,
        fields: query.fields as string[] | undefined, points: query.points as number | undefined, limit: query.limit as number | undefined,
        source: query.source as "auto" | undefined,
      })
    },
  }),
  route({
    method: "GET", path: "/api/v1/fleet", role: "viewer", tag: "devices",
    summary: "Count, average, min and max of one field across the fleet, per device, per minute or in total (1-minute rollup)",
    query: {
      field: required(p.match(fieldName, "a field name of the device schema")),
      from: p.time("start (default: to − 1 day)"),
      to: p.time("end (default: now)"),
      by: p.oneOf(["device", "minute", "total"], "grouping (default total)"),
      limit: p.int(1, historyLimits.maxRows, "most rows"),
    },
    handle: async ({ deps, query }) => {
      const to = (query.to as number | undefined) ?? deps.clock.now()
      return {
        rows: await deps.fleet({
          field: query.field as string, from: (query.from as number | undefined) ?? to - day, to,
          by: (query.by as "total" | undefined) ?? "total", limit: query.limit as number | undefined,
        }),
      }
    },
  }),
]
