/**
 * The CRL cannot lock the fleet out and works whatever its state at start: a CRL past its next
 * update still admits valid devices (and still refuses revoked ones), a CRL written after a start
 * without one takes effect without restart, a CRL the CA did not sign is refused while the loaded
 * one stays, and the keeper re-issues a CRL that is due. Devices here are `openssl s_client`.
 */
import { afterEach, beforeAll, afterAll, describe, expect, test } from "bun:test"
import { rmSync } from "node:fs"
import { startGateway, type Gateway } from "../../gateway/index.ts"
import { readCrl } from "../../gateway/crl.ts"
import { renewCrlIfDue } from "../../ops/certs/crl-keeper.ts"
import { createCa, issueCrl, pkiPaths, revokeDevice } from "../../ops/certs/pki.ts"
import { startNats, tempDir, waitFor, type NatsServer } from "../harness/index.ts"
import { makeTestPki, rawClient, testConfig, type TestPki } from "./fixture.ts"
import { natsPorts } from "../../runtime/nats/nats-ports.ts"

let nats: NatsServer
let pki: TestPki
let gw: Gateway | undefined
let logs: string[] = []

beforeAll(async () => {
  ;[nats, pki] = await Promise.all([startNats(), makeTestPki()])
}, 30_000)
afterEach(async () => {
  await gw?.stop({ drainMs: 200 })
  gw = undefined
  logs = []
})
afterAll(async () => {
  await nats?.cleanup()
})

const start = async () => {
  gw = await startGateway(testConfig(pki, nats.url), { nats: await natsPorts(await nats.connect()), log: (l) => logs.push(l) })
  return gw
}

/** `openssl s_client` as the device: sends one reading, returns what the gateway answered (or "" when refused). */
const sClient = async (port: number, who: "bus-0001" | "bus-0002" | "revoked", seq: number): Promise<string> => {
  const [cert, key] = pki.client(who)
  const p = Bun.spawn(["openssl", "s_client", "-quiet", "-connect", `127.0.0.1:${port}`, "-servername", "localhost",
    "-CAfile", pkiPaths(pki.dir).caCert, "-cert", cert, "-key", key], { stdin: "pipe", stdout: "pipe", stderr: "pipe" })
  p.stdin.write(`{"seq":${seq},"ts":${Date.now()},"speed_kmh":1}\n`)
  p.stdin.flush()
  let out = ""
  const reader = (async () => {
    for await (const chunk of p.stdout) {
      out += new TextDecoder().decode(chunk)
      if (/^(ACK|ERR) .*\n/m.test(out)) break
    }
  })()
  await Promise.race([reader, p.exited, Bun.sleep(5_000)])
  p.kill()
  await p.exited
  return out.trim()
}

describe("CRL lifecycle", () => {
  test("a CRL past its next update locks no device out, still refuses the revoked one, and is flagged until re-issued", async () => {
    await issueCrl(pki.dir, { lastUpdate: "20200101000000Z", nextUpdate: "20200201000000Z" })
    const g = await start()
    expect(await sClient(g.port, "bus-0001", 1)).toBe("ACK 1")
    expect(await sClient(g.port, "revoked", 1)).toBe("")
    expect(g.metrics.tls_refused_by_reason).toEqual({ revoked: 1 })
    expect(g.metrics.crl_stale).toBe(1)
    await waitFor("stale CRL logged", () => logs.some((l) => l.includes("is past its next update")))
    // The keeper (where the CA key is) re-issues it; the gateway reloads it without restart.
    expect(await renewCrlIfDue({ dir: pki.dir, renewBeforeMs: 7 * 86_400_000, now: Date.now, log: () => {} })).toBe("renewed")
    await waitFor("fresh CRL loaded", () => g.metrics.crl_stale === 0 && g.metrics.crl_next_update_ms > Date.now() + 20 * 86_400_000)
    expect(await sClient(g.port, "revoked", 1)).toBe("")
    expect(g.metrics.crl_revoked).toBe(1)
  }, 30_000)

  test("a revocation issued after a start without crl.pem takes effect without restart", async () => {
    rmSync(pkiPaths(pki.dir).crl)
    const g = await start()
    expect(logs.some((l) => l.includes("no CRL at"))).toBe(true)
    const live = await rawClient(g.port, pki, "bus-0002")
    live.write(`{"seq":1,"ts":${Date.now()},"speed_kmh":1}\n`)
    expect(await live.waitLine(/^ACK/)).toBe("ACK 1")
    await revokeDevice(pki.dir, "bus-0002")
    await live.closed
    expect(live.lines.at(-1)).toContain("certificate revoked")
    expect(await sClient(g.port, "bus-0002", 2)).toBe("")
    expect(g.metrics.tls_refused_by_reason.revoked).toBeGreaterThanOrEqual(2)
    expect(await sClient(g.port, "bus-0001", 2)).toBe("ACK 2")
  }, 30_000)

  test("a CRL the fleet CA did not sign is refused while running; the loaded revocations stay", async () => {
    const g = await start()
    const before = (await readCrl(pkiPaths(pki.dir).crl)).serials.size
    expect(g.metrics.crl_revoked).toBe(before)
    const other = tempDir("akis-other-ca-")
    await createCa(other, { cn: "akis fleet CA" }) // same name, another key
    await Bun.write(pkiPaths(pki.dir).crl, Bun.file(pkiPaths(other).crl))
    await waitFor("forged CRL refused", () => g.metrics.crl_reload_errors >= 1)
    expect(logs.some((l) => l.includes("is not signed by the CA"))).toBe(true)
    expect(g.metrics.crl_revoked).toBe(before)
    expect(await sClient(g.port, "revoked", 3)).toBe("")
  }, 30_000)
})
