import { describe, expect, test } from "bun:test"
import { X509Certificate } from "node:crypto"
import { readFileSync } from "node:fs"
import { deviceIdOf } from "../../../gateway/tls-auth.ts"
import { tempDir } from "../../../tests/harness/index.ts"
import { createCa, pkiPaths } from "../../certs/pki.ts"
import { chartSvg, writeChartPng } from "../plot.ts"
import { mintDeviceCerts } from "./mint.ts"

describe("scale bench helpers", () => {
  test("minted device certificates are issued by the fleet CA, name their device and are distinct", async () => {
    const dir = tempDir("akis-mint-")
    const paths = await createCa(dir)
    const ids = ["sc-000001", "sc-000002", "sc-012345"]
    const fleet = await mintDeviceCerts(paths.caCert, paths.caKey, ids)
    const ca = new X509Certificate(readFileSync(paths.caCert))
    const certs = fleet.certs.map((p) => new X509Certificate(p))
    certs.forEach((c, i) => {
      expect(c.checkIssued(ca)).toBe(true)
      expect(c.verify(ca.publicKey)).toBe(true) // the re-signed to-be-signed part
      expect(deviceIdOf(c)).toBe(ids[i])
      expect(c.subject).toBe(`CN=${ids[i]}`)
    })
    expect(new Set(certs.map((c) => c.serialNumber)).size).toBe(3)
    expect(fleet.keyPem).toContain("BEGIN PRIVATE KEY")
    await expect(mintDeviceCerts(pkiPaths(dir).caCert, pkiPaths(dir).caKey, ["a-1", "a-10"])).rejects.toThrow("same length")
  })

  test("a chart renders to SVG with one line per series and to a PNG file", async () => {
    const c = { title: "t", x: "devices", y: "KB", series: [{ name: "a", points: [[1000, 5], [10_000, 7], [100_000, 8]] as const }, { name: "b", points: [[1000, 2], [100_000, 3]] as const }], marks: [{ label: "goal", y: 10 }] }
    const svg = chartSvg(c)
    expect(svg.match(/<polyline/g)).toHaveLength(2)
    expect(svg).toContain("(log scale)")
    const path = `${tempDir("akis-plot-")}/c.png`
    writeChartPng(path, c)
    expect([...readFileSync(path).subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  })
})
