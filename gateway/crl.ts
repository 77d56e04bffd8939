/**
 * Revoked serials from a PEM CRL file, parsed with the `openssl` command line at load and again
 * whenever the file changes (`ops certs revoke` rewrites it), so a revocation takes effect without
 * restarting the gateway (Bun's own `crl` TLS option is read only at listen time).
 */
import { existsSync, statSync } from "node:fs"
import { CrlUnreadable } from "./errors.ts"
import { normSerial } from "./tls-auth.ts"

/** Serial numbers listed in a PEM CRL file (normalised upper-case hex); throws {@link CrlUnreadable}. */
export const readCrlSerials = async (path: string): Promise<Set<string>> => {
  const p = Bun.spawn(["openssl", "crl", "-in", path, "-noout", "-text"], { stdout: "pipe", stderr: "pipe", stdin: "ignore" })
  const [text, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  if (code !== 0) throw new CrlUnreadable({ path, message: `cannot read CRL ${path}: ${err.trim().slice(0, 300)}` })
  const out = new Set<string>()
  for (const m of text.matchAll(/Serial Number:\s*([0-9A-Fa-f]+)/g)) out.add(normSerial(m[1]!))
  return out
}

/** Watches a CRL file by modification time; `check()` reloads when it changed. */
export class CrlWatch {
  serials: Set<string> = new Set()
  private mtime = -1

  constructor(readonly path: string | undefined) {}

  /** Reloads if the file changed; true when the set was replaced. */
  async check(): Promise<boolean> {
    if (!this.path || !existsSync(this.path)) return false
    const m = statSync(this.path).mtimeMs
    if (m === this.mtime) return false
    this.serials = await readCrlSerials(this.path)
    this.mtime = m
    return true
  }
}
