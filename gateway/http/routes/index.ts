import type { Route } from "../route.ts"
import { adminRoutes } from "./admin.ts"
import { alertRoutes } from "./alerts.ts"
import { clusterRoutes } from "./cluster.ts"
import { deviceRoutes } from "./devices.ts"
import { ruleRoutes } from "./rules.ts"

/** Every route of the API, each declared once. */
export const allRoutes: ReadonlyArray<Route> = [...deviceRoutes, ...alertRoutes, ...ruleRoutes, ...clusterRoutes, ...adminRoutes]
