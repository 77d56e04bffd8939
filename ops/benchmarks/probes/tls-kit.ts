/**
 * What the TLS probes share: a throwaway CA with a server and a client certificate (ECDSA P-256,
 * as `ops certs` makes them), and a probe server in a child process (a `Bun.listen` TLS listener
 * with `requestCert`, as the gateway's) that answers each handshake with one line and reports its
 * CPU and handshake count when asked.
 */
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import { tempDir } from "../../lib/servers/index.ts"

export const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}
const rd = (dir: string, f: string) => Bun.file(join(dir, f)).text()

/** A CA (PKCS#8 key, so `mintDeviceCerts` can sign with it), a server and a client certificate, in a temp dir. */
export const makePki = async () => {
  const dir = tempDir("akis-tls-probe-")
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" })
  ssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key")
  ssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=probe-ca", "-days", "2", "-out", "ca.pem")
  for (const [name, ext] of [["srv", "subjectAltName=DNS:localhost"], ["cli", "subjectAltName=URI:urn:akis:device:probe"]] as const) {
    ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`)
    ssl("req", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-out", `${name}.csr`)
    await Bun.write(join(dir, `${name}.ext`), `${ext}\n`)
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.pem`)
  }
  return { dir, ca: await rd(dir, "ca.pem"), cert: await rd(dir, "cli.pem"), key: await rd(dir, "cli.key") }
}

/** Run by {@link startProbeServer} in the child: `bun <probe> server <dir> [noticket]`. */
export const serveProbe = async (dir: string, noTicket: boolean): Promise<void> => {
  let handshakes = 0
  const server = Bun.listen({
    hostname: "127.0.0.1", port: 0,
    tls: {
      cert: await rd(dir, "srv.pem"), key: await rd(dir, "srv.key"), ca: await rd(dir, "ca.pem"), requestCert: true, rejectUnauthorized: false,
      // SSL_OP_NO_TICKET: no session tickets after the handshake.
      ...(noTicket ? { secureOptions: 0x4000 } : {}),
    } as never,
    socket: { handshake: (s) => (handshakes++, void s.write("hi\n")), data() {} },
  })
  console.log(`port ${server.port}`)
  for await (const line of console) if (line === "cpu") console.log(`cpu ${cpuMs()} ${handshakes}`)
}

/** Starts the probe server of `probePath` (which calls {@link serveProbe} on `server`). */
export const startProbeServer = async (probePath: string, dir: string, noTicket = false) => {
  const proc = Bun.spawn(["bun", probePath, "server", dir, ...(noTicket ? ["noticket"] : [])], { stdin: "pipe", stdout: "pipe" })
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
  /** The server's CPU ms and handshakes so far. */
  const cpu = async () => {
    proc.stdin.write("cpu\n")
    proc.stdin.flush()
    const [ms, n] = (await line("cpu ")).split(" ").map(Number)
    return { ms: ms!, handshakes: n! }
  }
  return { port, cpu, stop: () => proc.kill() }
}
