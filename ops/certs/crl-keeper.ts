/**
 * Keeps a fleet CRL from expiring under a running fleet: re-issues it (same revocations, next CRL
 * number) when fewer than `renewBeforeMs` remain before its next update, or when it is missing or
 * unreadable. Runs only where the CA key is (`<dir>/ca/ca.key`, the `ops certs` layout, as on a
 * single machine or under ops/up); elsewhere the PKI's owner runs `ops certs crl` on a timer. The
 * gateways pick the new file up by themselves (gateway/crl.ts). With `default_crl_days = 30` and
 * the default 7 days, a CRL is re-issued every 23 days and is never less than a week from expiry.
 */
import { existsSync } from "node:fs"
import { readCrl } from "../../gateway/crl.ts"
import { issueCrl, pkiPaths } from "./pki.ts"
import { systemClock } from "../../runtime/clock.ts"

/** Options of {@link renewCrlIfDue} / {@link startCrlKeeper}. */
export interface CrlKeeperOptions {
  readonly dir: string
  /** Re-issue when the next update is closer than this. */
  readonly renewBeforeMs: number
  now(): number
  log(line: string): void
}

/** What one check did. */
export type CrlKeeperResult = "renewed" | "fresh" | "no_ca_key"

/** Checks the CRL once and re-issues it when due. */
export const renewCrlIfDue = async (o: CrlKeeperOptions): Promise<CrlKeeperResult> => {
  const p = pkiPaths(o.dir)
  if (!existsSync(p.caKey)) return "no_ca_key"
  let why: string | undefined
  if (!existsSync(p.crl)) why = "missing"
  else {
    try {
      const c = await readCrl(p.crl, p.caCert)
      if (c.nextUpdate === undefined) why = "it has no next update"
      else if (c.nextUpdate - o.now() < o.renewBeforeMs) why = `its next update is ${new Date(c.nextUpdate).toISOString()}`
    } catch (e) {
      why = (e as Error).message
    }
  }
  if (why === undefined) return "fresh"
  await issueCrl(o.dir)
  const c = await readCrl(p.crl, p.caCert)
  o.log(`crl: re-issued ${p.crl} (${why}); ${c.serials.size} revoked, next update ${c.nextUpdate === undefined ? "none" : new Date(c.nextUpdate).toISOString()}`)
  return "renewed"
}

/** Runs {@link renewCrlIfDue} now and every `everyMs` (default 1 h); returns a stop function. Errors are logged, never thrown. */
export const startCrlKeeper = (o: CrlKeeperOptions & { readonly everyMs?: number }): (() => void) => {
  if (o.renewBeforeMs <= 0) return () => {}
  let busy = false
  const run = () => {
    if (busy) return
    busy = true
    renewCrlIfDue(o).catch((e) => o.log(`crl: could not re-issue the CRL in ${o.dir}: ${(e as Error).message}`)).finally(() => (busy = false))
  }
  run()
  return systemClock.every(o.everyMs ?? 3_600_000, run)
}

/**
 * The keeper for a gateway's config: runs on `certDir` when the CRL is the layout's own
 * (`crlFile` empty) and `crlRenewDays` > 0; a no-op otherwise (and where the CA key is absent).
 */
export const startGatewayCrlKeeper = (g: { readonly certDir: string; readonly crlFile: string; readonly crlRenewDays: number }, log: (line: string) => void): (() => void) =>
  g.crlFile !== "" || g.crlRenewDays <= 0 ? () => {} : startCrlKeeper({ dir: g.certDir, renewBeforeMs: g.crlRenewDays * 86_400_000, now: Date.now, log })
