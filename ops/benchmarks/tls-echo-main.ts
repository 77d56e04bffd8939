/**
 * The raw ceiling of the ingest benchmark: an mTLS listener (same certificates and Bun.listen
 * settings as the gateway) that only cuts lines and answers `ACK <seq>` for the last complete
 * line of each packet — no validation, no batching, no JetStream. Args: certDir port.
 */
import { join } from "node:path"

const [certDir = ".akis/certs", portArg = "0"] = process.argv.slice(2)
const f = (n: string) => Bun.file(join(certDir, n))
const server = Bun.listen<{ partial: string }>({
  hostname: "127.0.0.1",
  port: Number(portArg),
  tls: { cert: f("server.crt"), key: f("server.key"), ca: f("ca.crt"), requestCert: true, rejectUnauthorized: false },
  socket: {
    open(s) {
      s.data = { partial: "" }
    },
    handshake(s) {
      if (!s.authorized) s.end()
    },
    data(s, chunk) {
      const text = s.data.partial + chunk.toString("latin1")
      const end = text.lastIndexOf("\n")
      if (end < 0) {
        s.data.partial = text
        return
      }
      s.data.partial = text.slice(end + 1)
      const start = text.lastIndexOf("\n", end - 1) + 1
      const c1 = text.indexOf(",", start)
      const c2 = text.indexOf(",", c1 + 1)
      s.write(`ACK ${text.slice(c1 + 1, c2)}\n`)
    },
  },
})
console.log(`tls echo listening on 127.0.0.1:${server.port}`)
