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
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import { tempDir } from "../../lib/servers/index.ts"

const rd = (dir: string, f: string) => Bun.file(join(dir, f)).text()
const cpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

if (process.argv[2] === "server") {
  // Child: a TLS listener that answers each handshake with one line and prints its CPU on "cpu".
  const dir = process.argv[3]!
  const server = Bun.listen({
    hostname: "127.0.0.1", port: 0,
    tls: { cert: await rd(dir, "srv.pem"), key: await rd(dir, "srv.key"), ca: await rd(dir, "ca.pem"), requestCert: true, rejectUnauthorized: false },
    socket: { handshake: (s) => void s.write("hi\n"), data() {} },
  })
  console.log(`port ${server.port}`)
  for await (const line of console) if (line === "cpu") console.log(`cpu ${cpuMs()}`)
} else {
  const n = Number(process.argv[2] ?? 1000)
  const dir = tempDir("akis-tls-probe-")
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" })
  ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key")
  ssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=probe-ca", "-days", "2", "-out", "ca.pem")
  for (const [name, ext] of [["srv", "subjectAltName=DNS:localhost"], ["cli", "subjectAltName=URI:urn:akis:device:probe"]] as const) {
    ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`)
    ssl("req", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-out", `${name}.csr`)
    await Bun.write(join(dir, `${name}.ext`), `${ext}\n`)
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.pem`)
  }
  const tls = { cert: await rd(dir, "cli.pem"), key: await rd(dir, "cli.key"), ca: await rd(dir, "ca.pem"), serverName: "localhost" }

  const startServer = async () => {
    const proc = Bun.spawn(["bun", import.meta.path, "server", dir], { stdin: "pipe", stdout: "pipe" })
    const lines = proc.stdout.pipeThrough(new TextDecoderStream()).getReader()
    let buf = ""
    const line = async (prefix: string) => {
      for (;;) {
        const at = buf.indexOf("\n")
        if (at >= 0) {
          const l = buf.slice(0, at)
          buf = buf.slice(at + 1)
          if (l.startsWith(prefix)) return l.slice(prefix.length)
          continue
        }
        const { value, done } = await lines.read()
        if (done) throw new Error("probe server exited")
        buf += value
      }
    }
    const port = Number(await line("port "))
    const cpu = async () => (proc.stdin.write("cpu\n"), proc.stdin.flush(), Number(await line("cpu ")))
    return { port, cpu, stop: () => proc.kill() }
  }

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
    const [c0, s0] = [cpuMs(), await server.cpu()]
    const r = await run(server.port, n, kind === "resumed" ? session : undefined)
    const [c1, s1] = [cpuMs(), await server.cpu()]
    console.log(`${kind}: ${n} handshakes, ${r.resumed} resumed; CPU ms per handshake: client ${((c1 - c0) / n).toFixed(3)}, server ${((s1 - s0) / n).toFixed(3)}`)
  }
  server.stop()
  const restarted = await startServer()
  const after = await run(restarted.port, 10, session)
  console.log(`a second server process resumed ${after.resumed} of 10 sessions of the first`)
  restarted.stop()
}
