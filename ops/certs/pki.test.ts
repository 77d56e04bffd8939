import { describe, expect, test } from "bun:test"
import { X509Certificate } from "node:crypto"
import { readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { readCrlSerials } from "../../gateway/crl.ts"
import { deviceIdOf, normSerial } from "../../gateway/tls-auth.ts"
import { spawnChild, tempDir } from "../../tests/harness/index.ts"
import { fleetIds, pkiPaths, revokeDevice } from "./pki.ts"

const root = join(import.meta.dir, "..", "..")

describe("ops certs", () => {
  test("fleet ids are zero-padded and prefixed", () => {
    expect(fleetIds(3, "bus-")).toEqual(["bus-0001", "bus-0002", "bus-0003"])
    expect(fleetIds(2, "t", 9999)).toEqual(["t09999", "t10000"])
  })

  test("init issues CA, server and device certificates without printing a key; revoke lists the serial in the CRL", async () => {
    const dir = tempDir("akis-certs-")
    const cli = spawnChild("certs", ["bun", join(root, "ops", "cli.ts"), "certs", "init", "--dir", dir, "--devices", "3", "--prefix", "bus-"], { cwd: root })
    expect(await cli.exited).toBe(0)
    expect(cli.output()).not.toContain("PRIVATE KEY")
    const p = pkiPaths(dir)
    const ca = new X509Certificate(readFileSync(p.caCert))
    const dev = new X509Certificate(readFileSync(p.deviceCert("bus-0002")))
    expect(dev.checkIssued(ca) && dev.verify(ca.publicKey)).toBe(true)
    expect(deviceIdOf(dev)).toBe("bus-0002")
    expect(dev.subjectAltName).toBe("URI:urn:akis:device:bus-0002")
    const server = new X509Certificate(readFileSync(p.serverCert))
    expect(server.subjectAltName).toContain("IP Address:127.0.0.1")
    expect(server.subjectAltName).toContain("DNS:localhost")
    for (const key of [p.caKey, p.serverKey, p.deviceKey("bus-0001")]) expect(statSync(key).mode & 0o077).toBe(0)
    expect((await readCrlSerials(p.crl)).size).toBe(0)
    await revokeDevice(dir, "bus-0002")
    expect(await readCrlSerials(p.crl)).toEqual(new Set([normSerial(dev.serialNumber)]))

    // Only device ids: `revoke ../server` named the gateway's own certificate file.
    for (const bad of ["../server", "../ca", "bus-0001/../../server", "", "bus.0001"]) {
      const r = spawnChild("certs", ["bun", join(root, "ops", "cli.ts"), "certs", "revoke", "--dir", dir, bad], { cwd: root })
      expect(await r.exited).toBe(1)
      expect(r.output()).toContain("is not a device id")
    }
    expect(revokeDevice(dir, "../server")).rejects.toThrow("is not a device id")
    expect(await readCrlSerials(p.crl)).toEqual(new Set([normSerial(dev.serialNumber)])) // the server's serial is not in it
  }, 60_000)
})
