import bench from "./ops/benchmarks/rules.ts"
console.log(JSON.stringify(await bench.run({ runs: 3, json: true })))
