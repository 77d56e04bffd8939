import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium, type BrowserContext } from "playwright-core"

/** Debian's chromium (ops/lib/bootstrap.sh installs it); playwright never downloads a browser here. */
export const chromiumPath = "/usr/bin/chromium"

/** A headless Chromium with a fresh profile, driven by playwright-core; `close` removes the profile. */
export interface Browser {
  readonly context: BrowserContext
  close(): Promise<void>
}

/**
 * Starts Debian's chromium headless with a throw-away profile and nothing that phones home
 * (no QUIC, sync, component updates or background networking): the tests and `ops bench ui`
 * use it the same way.
 */
export const launchChromium = async (o: { viewport?: { width: number; height: number } } = {}): Promise<Browser> => {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: install Debian's chromium (ops/test and ops/up do: apt-get install chromium)`)
  const profile = mkdtempSync(join(tmpdir(), "akis-chromium-"))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath, headless: true, viewport: o.viewport ?? { width: 1400, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    ignoreHTTPSErrors: true,
  })
  return {
    context,
    async close() {
      await context.close().catch(() => {})
      rmSync(profile, { recursive: true, force: true })
    },
  }
}
