import { ApiProblem, badParameter } from "../errors.ts"
import { p } from "../params.ts"
import { route } from "../route.ts"

const fieldName = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
/** Fields the fleet page shows when none are asked for. */
export const defaultLiveFields = ["gps_lat", "gps_lon", "speed_kmh", "coolant_temp_c", "engine_rpm", "fuel_level_pct"]

/** What the dashboard needs beyond the other routes: who am I, the fleet's newest values, rows stored. */
export const dashboardRoutes = [
  route({
    method: "GET", path: "/api/v1/me", role: "viewer", tag: "dashboard",
    summary: "The calling token's name and role (the dashboard offers what the role may do)",
    handle: ({ caller }) => ({ tokenId: caller!.tokenId, name: caller!.name, role: caller!.role }),
  }),
  route({
    method: "GET", path: "/api/v1/fleet/live", role: "viewer", tag: "dashboard",
    summary: "The newest reading of every device seen on the telemetry subjects (columnar: ids, lastAt event times, chosen fields); `now` is the server time, `since` when this node started watching",
    query: { fields: p.list(fieldName, "field names of the device schema (default gps_lat, gps_lon, speed_kmh, coolant_temp_c, engine_rpm, fuel_level_pct)") },
    handle: async ({ deps, query }) => {
      const names = (query.fields as string[] | undefined) ?? defaultLiveFields.filter((f) => deps.schema.byName.has(f))
      const unknown = names.filter((f) => !deps.schema.byName.has(f))
      if (unknown.length) throw badParameter("fields", `field names of the device schema (unknown: ${unknown.join(", ")})`)
      if (!deps.fleetLive) throw new ApiProblem({ status: 503, code: "unavailable", message: "this node does not watch the telemetry subjects", retryAfterS: 5 })
      const fields = names.map((name) => ({ name, index: deps.schema.byName.get(name)!.index }))
      // `now` after the feed answered: a feed just started waits for its first readings.
      const live = await deps.fleetLive(fields)
      return { now: deps.clock.now(), ...live }
    },
  }),
  route({
    method: "GET", path: "/api/v1/cluster/stored", role: "viewer", tag: "cluster",
    summary: "Rows in the telemetry table now (two calls give readings stored per second)",
    handle: async ({ deps }) => ({ at: deps.clock.now(), rows: await deps.storedRows() }),
  }),
]
