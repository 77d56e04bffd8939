import bench from "./ops/benchmarks/rules.ts"
import { makeDeviceKind } from "./actors/index.ts"
const orig = makeDeviceKind
