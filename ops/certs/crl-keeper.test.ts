import { describe, expect, test } from "bun:test"
import { renameSync, rmSync } from "node:fs"
import { readCrl } from "../../gateway/crl.ts"
import { tempDir } from "../../tests/harness/index.ts"
import { renewCrlIfDue } from "./crl-keeper.ts"
import { createCa, createDeviceCert, issueCrl, pkiPaths, revokeDevice } from "./pki.ts"

const day = 86_400_000

describe("CRL keeper", () => {
  test("re-issues a CRL close to its next update (keeping its revocations), leaves a fresh one, and needs the CA key", async () => {
    const dir = tempDir("akis-crlkeeper-")
    await createCa(dir)
    await createDeviceCert(dir, "bus-0001")
    await revokeDevice(dir, "bus-0001")
    const p = pkiPaths(dir)
    const logs: string[] = []
    const o = { dir, renewBeforeMs: 7 * day, now: Date.now, log: (l: string) => logs.push(l) }
    expect(await renewCrlIfDue(o)).toBe("fresh") // 30 days left
    const soon = new Date(Date.now() + 2 * day).toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z"
    await issueCrl(dir, { nextUpdate: soon })
    const before = await readCrl(p.crl, p.caCert)
    expect(await renewCrlIfDue(o)).toBe("renewed")
    const after = await readCrl(p.crl, p.caCert)
    expect(after.nextUpdate! - Date.now()).toBeGreaterThan(29 * day)
    expect(after.serials).toEqual(before.serials)
    expect(after.serials.size).toBe(1)
    expect(after.number!).toBeGreaterThan(before.number!)
    expect(logs.at(-1)).toContain("re-issued")
    rmSync(p.crl)
    expect(await renewCrlIfDue(o)).toBe("renewed") // missing
    renameSync(p.caKey, `${p.caKey}.away`)
    expect(await renewCrlIfDue({ ...o, renewBeforeMs: 365 * day })).toBe("no_ca_key")
  }, 30_000)
})
