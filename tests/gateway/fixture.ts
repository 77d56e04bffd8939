/** Shared by the gateway's multi-process tests: a throw-away PKI and a raw TLS device client. */
import { join } from "node:path"
import { loadConfig, type AkisConfig } from "../../config/index.ts"
import { createCa, createDeviceCert, createSelfSigned, createServerCert, pkiPaths, revokeDevice } from "../../ops/certs/pki.ts"
import { tempDir, waitFor } from "../harness/index.ts"
import { compareSets, describeDiff, readingKey } from "../support/sets.ts"

export interface TestPki {
  readonly dir: string
  /** [cert, key] files of a client. */
  client(name: "bus-0001" | "bus-0002" | "bus-0003" | "revoked" | "expired" | "future" | "self" | "wrongca" | "bad.id"): [string, string]
}

/** CA + server cert + good, revoked, expired, not-yet-valid, self-signed and foreign-CA device certs. */
export const makeTestPki = async (): Promise<TestPki> => {
  const dir = tempDir("akis-pki-")
  await createCa(dir)
  await createServerCert(dir)
  for (const id of ["bus-0001", "bus-0002", "bus-0003", "revoked"]) await createDeviceCert(dir, id)
  await createDeviceCert(dir, "bad.id", { allowBadId: true })
  await createDeviceCert(dir, "expired", { startDate: "20200101000000Z", endDate: "20210101000000Z" })
  await createDeviceCert(dir, "future", { startDate: "20400101000000Z", endDate: "20410101000000Z" })
  await revokeDevice(dir, "revoked")
  await createSelfSigned(join(dir, "self.key"), join(dir, "self.crt"), "bus-0001")
  const other = tempDir("akis-pki-other-")
  await createCa(other, { cn: "someone else" })
  await createDeviceCert(other, "bus-0001")
  const p = pkiPaths(dir)
  return {
    dir,
    client: (name) =>
      name === "self" ? [join(dir, "self.crt"), join(dir, "self.key")]
      : name === "wrongca" ? [pkiPaths(other).deviceCert("bus-0001"), pkiPaths(other).deviceKey("bus-0001")]
      : [p.deviceCert(name), p.deviceKey(name)],
  }
}

/** Config for a test gateway on a free port using `pki` and `natsUrl`. */
export const testConfig = (pki: TestPki, natsUrl: string, gateway: Record<string, unknown> = {}): AkisConfig =>
  loadConfig({ env: {}, overrides: { nats: { servers: [natsUrl] }, cluster: { partitions: 8 }, gateway: { port: 0, certDir: pki.dir, crlReloadMs: 200, ...gateway } } })

/** A raw TLS device: writes bytes, collects answer lines. */
export interface RawClient {
  readonly lines: string[]
  write(data: string | Uint8Array): void
  waitLine(re: RegExp, timeoutMs?: number): Promise<string>
  readonly closed: Promise<void>
  isClosed(): boolean
  end(): void
}

export const rawClient = (port: number, pki: TestPki, who: Parameters<TestPki["client"]>[0] | "none"): Promise<RawClient> =>
  new Promise((resolve, reject) => {
    const tls: Record<string, unknown> = { ca: Bun.file(pkiPaths(pki.dir).caCert), serverName: "localhost" }
    if (who !== "none") {
      const [cert, key] = pki.client(who)
      tls.cert = Bun.file(cert)
      tls.key = Bun.file(key)
    }
    const lines: string[] = []
    let partial = ""
    let closed = false
    let onClose: () => void = () => {}
    const closedP = new Promise<void>((r) => (onClose = r))
    // Bytes the socket did not take yet (written on drain), so large writes are never cut.
    let pending: Uint8Array = new Uint8Array(0)
    const flush = (s: { write(d: Uint8Array): number }) => {
      if (pending.length === 0) return
      const n = s.write(pending)
      pending = pending.subarray(Math.max(0, n))
    }
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      tls,
      socket: {
        handshake(s) {
          resolve({
            lines,
            write: (d) => {
              const bytes = typeof d === "string" ? new TextEncoder().encode(d) : d
              const joined = new Uint8Array(pending.length + bytes.length)
              joined.set(pending)
              joined.set(bytes, pending.length)
              pending = joined
              flush(s)
            },
            waitLine: (re, timeoutMs = 5000) => waitFor(`a line matching ${re} (got ${JSON.stringify(lines.slice(-3))})`, () => lines.find((l) => re.test(l)), { timeoutMs, intervalMs: 10 }),
            closed: closedP,
            isClosed: () => closed,
            end: () => s.end(),
          })
        },
        drain(s) {
          flush(s)
        },
        data(_s, chunk) {
          partial += new TextDecoder().decode(chunk)
          const parts = partial.split("\n")
          partial = parts.pop()!
          lines.push(...parts)
        },
        close() {
          closed = true
          onClose()
        },
        connectError: (_s, e) => reject(e),
        error() {},
      },
    }).catch(reject)
  })

/** Every reading in AKIS_TLM, in stream order, as `[device, seq]`. */
export const streamReadings = async (nc: import("@nats-io/transport-node").NatsConnection): Promise<Array<[string, number]>> => {
  const { jetstream, jetstreamManager } = await import("@nats-io/jetstream")
  const { decodeBatch } = await import("../../runtime/batch.ts")
  const jsm = await jetstreamManager(nc)
  const info = await jsm.streams.info("AKIS_TLM")
  const out: Array<[string, number]> = []
  const last = info.state.last_seq
  if (info.state.messages === 0) return out
  const c = await jetstream(nc).consumers.get("AKIS_TLM")
  const it = await c.consume()
  for await (const m of it) {
    const b = decodeBatch(m.data)
    for (let i = 0; i < b.ids.length; i++) out.push([b.ids[i]!, b.seqs[i]!])
    if (m.seq >= last) break
  }
  await it.close()
  return out
}

/**
 * Checks a stream against what the devices had acknowledged (`expected`: device → last acked seq,
 * seqs `firstSeq..last` each): every acked reading present, nothing else, first copies in seq order
 * per device, and at most `maxDuplicates` extra copies (a device resends what was not acked when its
 * gateway died, so each resend may add one; without resends there must be none). Returns the
 * first problem, or undefined.
 */
export const checkDelivery = (
  rows: ReadonlyArray<[string, number]>, expected: ReadonlyMap<string, number>, o: { firstSeq?: number; maxDuplicates?: number } = {},
): string | undefined => {
  const firstSeq = o.firstSeq ?? 1
  const keys = [...expected].flatMap(([d, last]) => Array.from({ length: Math.max(0, last - firstSeq + 1) }, (_, i) => readingKey(d, firstSeq + i)))
  const diff = compareSets(keys, rows, ([d, s]) => readingKey(d, s))
  if (diff.missing > 0 || diff.unexpected > 0) return describeDiff("stream", diff)
  if (diff.extraCopies > (o.maxDuplicates ?? 0)) return `${diff.extraCopies} duplicate copies in the stream, at most ${o.maxDuplicates ?? 0} allowed: ${describeDiff("stream", diff)}`
  const last = new Map<string, number>()
  const seen = new Set<string>()
  for (const [d, s] of rows) {
    const k = readingKey(d, s)
    if (seen.has(k)) continue // a resent copy
    seen.add(k)
    const prev = last.get(d) ?? firstSeq - 1
    if (s !== prev + 1) return `${d}: seq ${s} first appears after ${prev} (disorder)`
    last.set(d, s)
  }
  return undefined
}
