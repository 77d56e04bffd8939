/**
 * Probe (not part of `ops bench`): the sending process's CPU to POST one sink insert body over
 * HTTP, by client: `@clickhouse/client` `exec` with the body as a one-chunk stream (how
 * actors/sink/clickhouse-store.ts inserted until 2026-11-26 evening) against Bun's `fetch` with the
 * body as it is. The receiver is a child process that reads and drops each body, so only the
 * sender's CPU is counted. docs/benchmarks-history.md quotes it (session of 2026-11-26 evening).
 *
 *   bun ops/benchmarks/probes/insert-body.ts [MB per body, default 20] [bodies per row, default 40] [receiver's pause after each chunk, ms, default 0]
 */
import { createClient } from "@clickhouse/client"
import { Readable } from "node:stream"

const mb = Number(process.argv[2] ?? 20)
const count = Number(process.argv[3] ?? 40)
const slowMs = Number(process.argv[4] ?? 0)

if (process.argv[2] === "--serve") {
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const reader = req.body!.getReader()
      // A receiver slower than loopback (ClickHouse parses as it reads): a pause after each chunk.
      for (;;) {
        if ((await reader.read()).done) break
        if (slowMs > 0) await Bun.sleep(slowMs)
      }
      return new Response("")
    },
  })
  console.log(server.port)
} else {
  const child = Bun.spawn(["bun", import.meta.path, "--serve", "0", String(slowMs)], { stdout: "pipe" })
  const port = await readPort(child)
  const url = `http://127.0.0.1:${port}`
  const body = new Uint8Array(mb * 1_000_000).map((_, i) => i & 0xff)
  const client = createClient({ url, keep_alive: { enabled: true, idle_socket_ttl: 2000 } })
  const rows: Array<[string, () => Promise<void>]> = [
    ["@clickhouse/client exec, one-chunk stream", async () => {
      const r = await client.exec({ query: "INSERT INTO t FORMAT RowBinary", values: Readable.from([Buffer.from(body.buffer, body.byteOffset, body.byteLength)], { objectMode: false }) })
      for await (const _ of r.stream) void _
    }],
    ["Bun fetch, body as it is", async () => {
      const r = await fetch(`${url}/?query=${encodeURIComponent("INSERT INTO t FORMAT RowBinary")}`, { method: "POST", body })
      await r.arrayBuffer()
    }],
  ]
  for (let round = 0; round < 2; round++) {
    for (const [name, post] of rows) {
      await post()
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      for (let i = 0; i < count; i++) await post()
      const cpu = process.cpuUsage(cpu0)
      const ms = (cpu.user + cpu.system) / 1000 / count
      console.log(`${name}: ${ms.toFixed(2)} ms CPU per ${mb} MB body (${(ms / mb).toFixed(3)} ms per MB; user ${(cpu.user / 1000 / count).toFixed(2)}), ${((performance.now() - t0) / count).toFixed(1)} ms wall`)
    }
  }
  await client.close()
  child.kill()
}

async function readPort(child: { stdout: ReadableStream<Uint8Array> }): Promise<number> {
  const reader = child.stdout.getReader()
  const { value } = await reader.read()
  return Number(new TextDecoder().decode(value).trim())
}
