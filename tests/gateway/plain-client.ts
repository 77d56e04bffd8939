/**
 * A device client that shares no code with akis: node:tls, bytes in, answer lines out, each line
 * with the time it arrived. Used to judge the gateway with a client it did not write.
 */
import { readFileSync } from "node:fs"
import { connect, type TLSSocket } from "node:tls"
import { pkiPaths } from "../../ops/certs/pki.ts"
import { waitFor } from "../harness/index.ts"

export interface PlainClient {
  readonly socket: TLSSocket
  /** Answer lines with their arrival time (performance.now()). */
  readonly lines: Array<{ line: string; at: number }>
  readonly closedAt: Promise<number>
  write(data: string | Uint8Array): void
  waitLine(re: RegExp, timeoutMs?: number): Promise<string>
  end(): void
}

export const plainClient = (port: number, certDir: string, device: string): Promise<PlainClient> =>
  new Promise((resolve, reject) => {
    const p = pkiPaths(certDir)
    const socket = connect({
      host: "127.0.0.1", port, servername: "localhost",
      ca: readFileSync(p.caCert), cert: readFileSync(p.deviceCert(device)), key: readFileSync(p.deviceKey(device)),
    })
    const lines: Array<{ line: string; at: number }> = []
    let partial = ""
    let onClose: (t: number) => void = () => {}
    const closedAt = new Promise<number>((r) => (onClose = r))
    socket.on("data", (chunk: Buffer) => {
      const at = performance.now()
      partial += chunk.toString("utf8")
      const parts = partial.split("\n")
      partial = parts.pop()!
      for (const line of parts) lines.push({ line, at })
    })
    socket.on("close", () => onClose(performance.now()))
    socket.on("error", () => {})
    socket.once("secureConnect", () =>
      resolve({
        socket, lines, closedAt,
        write: (d) => void socket.write(d),
        waitLine: (re, timeoutMs = 10_000) =>
          waitFor(`a line matching ${re} (last: ${JSON.stringify(lines.slice(-3).map((l) => l.line))})`, () => lines.find((l) => re.test(l.line))?.line, { timeoutMs, intervalMs: 10 }),
        end: () => void socket.end(),
      }))
    socket.once("error", reject)
  })
