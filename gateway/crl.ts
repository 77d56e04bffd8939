/**
 * The gateway's revocation list: serials read from a PEM CRL file with the `openssl` command line,
 * its signature checked against the fleet CA, re-read whenever the file changes (`ops certs revoke`
 * and the CRL keeper rewrite it). Revocation is enforced by serial in `classifyPeer`, not by TLS:
 * BoringSSL refuses *every* client once a CRL given to the listener is past its next update
 * (CRL_HAS_EXPIRED, fleet lockout), and a listener's TLS options cannot be changed while it runs.
 *
 * Policy, whatever the state at start:
 * - no file: nothing is revoked; the path is watched and a CRL that appears later is loaded;
 * - a file that does not parse or whose signature is not the CA's: refused at start, and while
 *   running the previous list stays in force (logged, counted in `crl_reload_errors`);
 * - a CRL older than the loaded one (lower CRL number) is refused the same way;
 * - past its next update: still enforced (revoked devices stay out, the rest of the fleet stays
 *   in), `crl_stale` = 1 and a log line until a fresh CRL arrives (renew: `ops certs crl`).
 */
import type { Clock } from "../runtime/clock.ts"
import { existsSync, statSync } from "node:fs"
import { CrlUnreadable } from "./errors.ts"
import type { GatewayMetrics } from "./metrics.ts"
import { normSerial } from "./tls-auth.ts"

/** What a CRL file says. */
export interface CrlContent {
  readonly serials: Set<string>
  /** Next update, epoch ms (undefined when the CRL has none). */
  readonly nextUpdate: number | undefined
  /** The CRL number extension (undefined when absent). */
  readonly number: number | undefined
}

const openssl = async (args: string[]): Promise<{ out: string; err: string; code: number }> => {
  const p = Bun.spawn(["openssl", ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  return { out, err, code }
}

/**
 * Reads a PEM CRL; with `caFile`, also checks that the CA signed it (OpenSSL 3.0 prints
 * "verify failure" and still exits 0, so stderr is what tells). Throws {@link CrlUnreadable}.
 */
export const readCrl = async (path: string, caFile?: string): Promise<CrlContent> => {
  const { out, err, code } = await openssl(["crl", "-in", path, "-noout", "-text", ...(caFile ? ["-CAfile", caFile] : [])])
  if (code !== 0) throw new CrlUnreadable({ path, message: `cannot read CRL ${path}: ${err.trim().slice(0, 300)}` })
  if (caFile && !/verify OK/.test(err)) throw new CrlUnreadable({ path, message: `CRL ${path} is not signed by the CA ${caFile}: ${err.trim().slice(0, 200)}` })
  const serials = new Set<string>()
  for (const m of out.matchAll(/Serial Number:\s*([0-9A-Fa-f]+)/g)) serials.add(normSerial(m[1]!))
  const next = /Next Update:\s*(.+)/.exec(out)?.[1]?.trim()
  const nextUpdate = next && next !== "NONE" ? Date.parse(next) : undefined
  const num = /CRL Number:\s*\n?\s*(\d+)\s*$/m.exec(out)?.[1]
  return { serials, nextUpdate: Number.isFinite(nextUpdate) ? nextUpdate : undefined, number: num === undefined ? undefined : Number(num) }
}

/** Serial numbers listed in a PEM CRL file (normalised upper-case hex); throws {@link CrlUnreadable}. */
export const readCrlSerials = async (path: string): Promise<Set<string>> => (await readCrl(path)).serials

/** Watches a CRL file by modification time and size; `check()` reloads when it changed. */
export class CrlWatch {
  serials: Set<string> = new Set()
  nextUpdate: number | undefined
  number: number | undefined
  /** True once a CRL was loaded. */
  loaded = false
  private stamp = ""

  constructor(readonly path: string | undefined, readonly caFile?: string) {}

  /**
   * Reloads if the file changed; true when the list was replaced. Throws {@link CrlUnreadable}
   * for a file that does not parse, is not the CA's or is older than the loaded one (the loaded
   * list stays); the same file is not retried until it changes again.
   */
  async check(): Promise<boolean> {
    if (!this.path || !existsSync(this.path)) return false
    const st = statSync(this.path)
    const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`
    if (stamp === this.stamp) return false
    this.stamp = stamp
    const c = await readCrl(this.path, this.caFile)
    if (this.number !== undefined && c.number !== undefined && c.number < this.number) {
      throw new CrlUnreadable({ path: this.path, message: `CRL ${this.path} has number ${c.number}, older than the loaded ${this.number}; kept the loaded one` })
    }
    this.serials = c.serials
    this.nextUpdate = c.nextUpdate
    this.number = c.number
    this.loaded = true
    return true
  }

  /** True when the loaded CRL is past its next update (still enforced; see the module comment). */
  isStale(now: number): boolean {
    return this.nextUpdate !== undefined && now > this.nextUpdate
  }
}

/** Options of {@link watchCrl}. */
export interface WatchCrlOptions {
  readonly everyMs: number
  readonly metrics: GatewayMetrics
  readonly clock: Clock
  log(line: string): void
  /** Called after a new list was loaded. */
  onChange(serials: ReadonlySet<string>): void
}

const iso = (t: number | undefined) => (t === undefined ? "none" : new Date(t).toISOString())

/** Updates the CRL gauges in `metrics` from `w`. */
export const crlGauges = (w: CrlWatch, metrics: GatewayMetrics, now: number): void => {
  metrics.crl_revoked = w.serials.size
  metrics.crl_next_update_ms = w.nextUpdate ?? 0
  metrics.crl_stale = w.isStale(now) ? 1 : 0
}

/** Re-checks the CRL every `everyMs`; logs loads, refusals and staleness; returns a stop function. */
export const watchCrl = (w: CrlWatch, o: WatchCrlOptions): (() => void) => {
  let busy = false
  let warnedStale = false
  return o.clock.every(o.everyMs, () => {
    if (busy) return
    busy = true
    w.check().then((changed) => {
      if (changed) {
        o.log(`gateway: CRL reloaded (${w.serials.size} revoked, next update ${iso(w.nextUpdate)})`)
        warnedStale = false
        o.onChange(w.serials)
      }
    }, (e) => {
      o.metrics.crl_reload_errors++
      o.log(`gateway: ${(e as CrlUnreadable).message ?? String(e)}`)
    }).finally(() => {
      busy = false
      crlGauges(w, o.metrics, o.clock.now())
      if (w.isStale(o.clock.now()) && !warnedStale) {
        warnedStale = true
        o.log(`gateway: CRL ${w.path} is past its next update (${iso(w.nextUpdate)}); its ${w.serials.size} revocations stay enforced and the rest of the fleet is admitted; re-issue it (ops certs crl)`)
      }
    })
  })
}
