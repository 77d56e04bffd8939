/**
 * Probe (not part of `ops bench`): CPU of a full and of a resumed mTLS handshake between a Bun TLS
 * listener with `requestCert` and a Bun client, ECDSA P-256 certificates, loopback, one
 * connection at a time. docs/benchmarks-history.md quotes it (session of 2026-11-26 morning).
 *
 *   bun ops/benchmarks/probes/tls-resume.ts [connections, default 1000]
 *
 * Prints, per kind, client and server CPU ms per handshake and whether the sessions resumed; then
 * whether a second server process (a restarted gateway) resumes the first one's sessions.
 */
import { cpuMs, makePki, serveProbe, startProbeServer } from "./tls-kit.ts"

if (process.argv[2] === "server") {
  await serveProbe(process.argv[3]!, false)
} else {
  const n = Number(process.argv[2] ?? 1000)
  const pki = await makePki()
  const tls = { cert: pki.cert, key: pki.key, ca: pki.ca, serverName: "localhost" }
  const startServer = () => startProbeServer(import.meta.path, pki.dir)

  /** `n` sequential handshakes; offers `session` when given; returns the last session and how many resumed. */
  const run = async (port: number, count: number, session?: Uint8Array) => {
    let last: Uint8Array | undefined
    let resumed = 0
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) => {
        void Bun.connect({
          hostname: "127.0.0.1", port, tls,
          socket: {
            open: (s) => void (session && s.setSession(session)),
            handshake: (s) => void (s.isSessionReused() && resumed++),
            data: (s) => {
              last = (s.getSession() as unknown as Uint8Array | undefined) ?? last
              s.end()
              resolve()
            },
            error: (_s, e) => reject(e),
            connectError: (_s, e) => reject(e),
          },
        }).catch(reject)
      })
    }
    return { session: last, resumed }
  }

  const server = await startServer()
  const { session } = await run(server.port, 1) // warm-up, and a session to offer
  for (const kind of ["full", "resumed"] as const) {
    const [c0, s0] = [cpuMs(), (await server.cpu()).ms]
    const r = await run(server.port, n, kind === "resumed" ? session : undefined)
    const [c1, s1] = [cpuMs(), (await server.cpu()).ms]
    console.log(`${kind}: ${n} handshakes, ${r.resumed} resumed; CPU ms per handshake: client ${((c1 - c0) / n).toFixed(3)}, server ${((s1 - s0) / n).toFixed(3)}`)
  }
  server.stop()
  const restarted = await startServer()
  const after = await run(restarted.port, 10, session)
  console.log(`a second server process resumed ${after.resumed} of 10 sessions of the first`)
  restarted.stop()
}
