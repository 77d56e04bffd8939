/**
 * Probe (not part of `ops bench`): CPU of one mTLS handshake on each side, Bun client against a
 * Bun listener with `requestCert` (ops/benchmarks/probes/tls-kit.ts), loopback, 8 handshakes in
 * flight, and what changes it: one client certificate for every connection or 10,000 distinct
 * ones (minted as the scale bench mints them), the listener without session tickets, a `node:tls`
 * client (with a TLS context per connection, or one made once), the time spent inside the
 * `Bun.connect` call, and binding to a source address (`localAddress`) while more and more
 * connections from it stay open (one source, then four). docs/benchmarks-history.md quotes it (session of
 * 2026-11-26 afternoon).
 *
 *   bun ops/benchmarks/probes/tls-costs.ts [handshakes per row, default 2000]
 */
import tls from "node:tls"
import { join } from "node:path"
import { mintDeviceCerts } from "../scale/mint.ts"
import { cpuMs, makePki, serveProbe, startProbeServer } from "./tls-kit.ts"

if (process.argv[2] === "server") {
  await serveProbe(process.argv[3]!, process.argv[4] === "noticket")
} else {
  const n = Number(process.argv[2] ?? 2000)
  const pki = await makePki()
  const minted = await mintDeviceCerts(join(pki.dir, "ca.pem"), join(pki.dir, "ca.key"), Array.from({ length: 10_000 }, (_, i) => `d-${String(i).padStart(6, "0")}`))
  const held: Array<{ end(): void }> = []

  type Client = { cert: (i: number) => string; key: string; node?: boolean; context?: tls.SecureContext; source?: (i: number) => string; keep?: boolean }
  /** ms spent inside the `Bun.connect` call itself (building the TLS context from PEM strings, the socket), summed over a row. */
  let connectCallMs = 0
  /** `count` handshakes, 8 at a time; client and server CPU ms per handshake. */
  const row = async (server: Awaited<ReturnType<typeof startProbeServer>>, count: number, c: Client) => {
    const one = (i: number) => new Promise<void>((resolve, reject) => {
      const opts = { ca: pki.ca, cert: c.cert(i), key: c.key }
      const done = (s: { end(): void }) => (c.keep ? held.push(s) : s.end(), resolve())
      if (c.node) {
        const s = tls.connect({ host: "127.0.0.1", port: server.port, servername: "localhost", ...(c.context ? { secureContext: c.context } : opts) })
        s.once("data", () => done(s)).once("error", reject)
        return
      }
      const t = performance.now()
      void Bun.connect({
        hostname: "127.0.0.1", port: server.port, ...(c.source ? { localAddress: c.source(i) } : {}),
        tls: { ...opts, serverName: "localhost" } as never,
        socket: { data: (s) => done(s), error: (_s, e) => reject(e), connectError: (_s, e) => reject(e) },
      }).catch(reject)
      connectCallMs += performance.now() - t
    })
    const [c0, s0] = [cpuMs(), await server.cpu()]
    let next = 0
    await Promise.all(Array.from({ length: 8 }, async () => { while (next < count) await one(next++) }))
    const [c1, s1] = [cpuMs(), await server.cpu()]
    return { client: (c1 - c0) / count, server: (s1.ms - s0.ms) / (s1.handshakes - s0.handshakes) }
  }
  const show = (what: string, r: { client: number; server: number }) => console.log(`| ${what} | ${r.client.toFixed(3)} | ${r.server.toFixed(3)} |`)
  const one = { cert: () => pki.cert, key: pki.key }

  console.log("| client | client ms | server ms |\n|---|---|---|")
  const server = await startProbeServer(import.meta.path, pki.dir)
  await row(server, 200, one) // warm-up
  connectCallMs = 0
  show("one client certificate for every connection", await row(server, n, one))
  console.log(`(of which inside the \`Bun.connect\` call: ${(connectCallMs / n).toFixed(3)} ms per connection)`)
  show("10,000 distinct client certificates", await row(server, n, { cert: (i) => minted.certs[i % minted.certs.length]!, key: minted.keyPem }))
  show("`node:tls` client", await row(server, n, { ...one, node: true }))
  // One context made once, as a device keeps it (Bun 1.4.5's Bun.connect refuses such a context).
  show("`node:tls` client, one `secureContext` for every connection", await row(server, n, { ...one, node: true, context: tls.createSecureContext({ ca: pki.ca, cert: pki.cert, key: pki.key }) }))
  const noTicket = await startProbeServer(import.meta.path, pki.dir, true)
  await row(noTicket, 200, one)
  show("listener without session tickets", await row(noTicket, n, one))
  noTicket.stop()
  for (const [sources, base] of [[1, 2], [4, 3]] as const) {
    for (let round = 0; round < 4; round++) {
      const r = await row(server, 2_500, { ...one, keep: true, source: (i) => `127.0.${base}.${1 + (i % sources)}` })
      show(`\`localAddress\` over ${sources} source(s), ${held.length - 2_500} → ${held.length} held`, r)
    }
    for (const s of held.splice(0)) s.end()
    await Bun.sleep(500)
  }
  server.stop()
  process.exit(0)
}
