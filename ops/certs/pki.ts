/**
 * A small fleet PKI on the `openssl` command line: a CA (kept in `<dir>/ca/`, an `openssl ca`
 * database so certificates can be revoked and a CRL issued), a gateway server certificate and
 * device certificates whose CN (and SAN URI `urn:akis:device:<id>`) is the device id.
 * Layout under `dir` (default `.akis/certs`):
 *
 *   ca.crt  crl.pem  server.crt  server.key  devices/<id>.crt  devices/<id>.key  ca/ (key + database)
 *
 * Keys are written with mode 0600 and never printed; openssl's output is shown only on failure.
 */
import { Data } from "effect"
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { isDeviceId } from "../../gateway/device-id.ts"

/** openssl failed or a file is missing; the message quotes openssl's stderr (never key material). */
export class PkiError extends Data.TaggedError("PkiError")<{ readonly message: string }> {}

export interface PkiPaths {
  readonly dir: string
  readonly caCert: string
  readonly caKey: string
  readonly crl: string
  readonly serverCert: string
  readonly serverKey: string
  deviceCert(id: string): string
  deviceKey(id: string): string
}

export const pkiPaths = (dir: string): PkiPaths => ({
  dir,
  caCert: join(dir, "ca.crt"),
  caKey: join(dir, "ca", "ca.key"),
  crl: join(dir, "crl.pem"),
  serverCert: join(dir, "server.crt"),
  serverKey: join(dir, "server.key"),
  deviceCert: (id) => join(dir, "devices", `${id}.crt`),
  deviceKey: (id) => join(dir, "devices", `${id}.key`),
})

const run = async (args: string[], cwd?: string): Promise<string> => {
  const p = Bun.spawn(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe", stdin: "ignore" })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  if (code !== 0) throw new PkiError({ message: `openssl ${args[0]} failed (${code}): ${err.trim().slice(0, 800)}` })
  return out
}

const caConfig = (caDir: string, caCert: string) => `
[ ca ]
default_ca = akis_ca
[ akis_ca ]
dir = ${caDir}
database = ${caDir}/index.txt
new_certs_dir = ${caDir}/newcerts
certificate = ${caCert}
private_key = ${caDir}/ca.key
serial = ${caDir}/serial
crlnumber = ${caDir}/crlnumber
default_md = sha256
default_days = 825
default_crl_days = 30
policy = policy_any
unique_subject = no
copy_extensions = copy
[ policy_any ]
commonName = supplied
[ device_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
[ req ]
distinguished_name = dn
[ dn ]
`

const writeKeyNote = (path: string) => chmodSync(path, 0o600)

/** Prepares the `openssl ca` database around a CA cert + key (new or existing). */
const initCaDb = (paths: PkiPaths): string => {
  const caDir = join(paths.dir, "ca")
  mkdirSync(join(caDir, "newcerts"), { recursive: true })
  if (!existsSync(join(caDir, "index.txt"))) writeFileSync(join(caDir, "index.txt"), "")
  if (!existsSync(join(caDir, "serial"))) writeFileSync(join(caDir, "serial"), `${randomSerial()}\n`)
  if (!existsSync(join(caDir, "crlnumber"))) writeFileSync(join(caDir, "crlnumber"), "1000\n")
  const cnf = join(caDir, "openssl.cnf")
  writeFileSync(cnf, caConfig(caDir, paths.caCert))
  return cnf
}

const randomSerial = (): string => {
  const b = crypto.getRandomValues(new Uint8Array(8))
  b[0] = (b[0]! & 0x3f) | 0x10
  return Buffer.from(b).toString("hex").toUpperCase()
}

/** Creates a new fleet CA (EC P-256, self-signed) unless one exists; writes an empty CRL. */
export const createCa = async (dir: string, opts: { cn?: string; days?: number; force?: boolean } = {}): Promise<PkiPaths> => {
  const paths = pkiPaths(dir)
  mkdirSync(join(dir, "ca"), { recursive: true })
  if (existsSync(paths.caKey) && !opts.force) throw new PkiError({ message: `a CA already exists in ${dir} (use --force to replace it)` })
  await run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", paths.caKey])
  writeKeyNote(paths.caKey)
  await run(["req", "-x509", "-new", "-key", paths.caKey, "-sha256", "-days", String(opts.days ?? 3650),
    "-subj", `/CN=${opts.cn ?? "akis fleet CA"}`, "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", paths.caCert])
  await importCa(dir)
  return paths
}

/**
 * Adopts an existing CA: `ca.crt` and `ca/ca.key` must already be in `dir` (copied there by
 * the operator). Sets up the signing database and issues a CRL.
 */
export const importCa = async (dir: string): Promise<PkiPaths> => {
  const paths = pkiPaths(dir)
  if (!existsSync(paths.caCert) || !existsSync(paths.caKey)) throw new PkiError({ message: `need ${paths.caCert} and ${paths.caKey}` })
  initCaDb(paths)
  await writeCrl(paths)
  return paths
}

/**
 * Runs `fn` holding `<dir>/ca/lock` (created exclusively), so that nodes sharing a certificate
 * directory (ops/up) and `ops certs` never update the `openssl ca` database at the same time. A
 * lock older than a minute is taken to be left by a killed process and removed.
 */
const withCaLock = async <A>(paths: PkiPaths, fn: () => Promise<A>): Promise<A> => {
  const lock = join(paths.dir, "ca", "lock")
  mkdirSync(join(paths.dir, "ca"), { recursive: true })
  for (let waited = 0; ; waited += 50) {
    try {
      closeSync(openSync(lock, "wx"))
      break
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > 60_000) rmSync(lock, { force: true })
      } catch { /* removed meanwhile */ }
      if (waited > 30_000) throw new PkiError({ message: `${lock} held for 30 s; remove it if no ops certs command or node is issuing` })
      await Bun.sleep(50)
    }
  }
  try {
    return await fn()
  } finally {
    rmSync(lock, { force: true })
  }
}

/** CRL dates for tests: openssl `YYYYMMDDHHMMSSZ`. */
export interface CrlDates {
  readonly lastUpdate?: string
  readonly nextUpdate?: string
}

const gencrl = async (paths: PkiPaths, dates: CrlDates = {}) => {
  const cnf = initCaDb(paths)
  // Written next to crl.pem and renamed over it, so a gateway never reads half a file.
  const tmp = `${paths.crl}.tmp`
  await run(["ca", "-batch", "-config", cnf, "-gencrl", "-out", tmp,
    ...(dates.lastUpdate ? ["-crl_lastupdate", dates.lastUpdate] : []), ...(dates.nextUpdate ? ["-crl_nextupdate", dates.nextUpdate] : [])])
  renameSync(tmp, paths.crl)
}

const writeCrl = (paths: PkiPaths) => withCaLock(paths, () => gencrl(paths))

/**
 * Re-issues the CRL (same revocations, new this/next update, next CRL number). Run it well before
 * the CRL's next update — `ops certs crl`, or the CRL keeper of a node that holds the CA key.
 */
export const issueCrl = async (dir: string, dates: CrlDates = {}): Promise<PkiPaths> => {
  const paths = pkiPaths(dir)
  if (!existsSync(paths.caKey)) throw new PkiError({ message: `no CA key at ${paths.caKey}: re-issue the CRL where the CA key is kept` })
  await withCaLock(paths, () => gencrl(paths, dates))
  return paths
}

interface SignOpts {
  readonly days?: number
  /** openssl date `YYYYMMDDHHMMSSZ`: for tests of not-yet-valid / expired certificates. */
  readonly startDate?: string
  readonly endDate?: string
}

const sign = async (paths: PkiPaths, csr: string, out: string, ext: "device_ext" | "server_ext", o: SignOpts) => {
  const cnf = initCaDb(paths)
  const dates = o.startDate && o.endDate ? ["-startdate", o.startDate, "-enddate", o.endDate] : ["-days", String(o.days ?? 825)]
  await withCaLock(paths, () => run(["ca", "-batch", "-notext", "-config", cnf, "-extensions", ext, ...dates, "-in", csr, "-out", out]))
}

/** Issues the gateway's server certificate for `hosts` (IPs and DNS names). */
export const createServerCert = async (dir: string, hosts: ReadonlyArray<string> = ["127.0.0.1", "localhost"], o: SignOpts = {}): Promise<PkiPaths> => {
  const paths = pkiPaths(dir)
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(",")
  const csr = `${paths.serverCert}.csr`
  await run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", paths.serverKey,
    "-subj", `/CN=${hosts[0] ?? "akis-gateway"}`, "-addext", `subjectAltName=${san}`, "-out", csr])
  writeKeyNote(paths.serverKey)
  await sign(paths, csr, paths.serverCert, "server_ext", o)
  rmSync(csr, { force: true })
  return paths
}

/**
 * Refuses anything that is not a device id ([A-Za-z0-9_-]{1,64}, the gateway's rule) before it
 * becomes a path: `revoke ../server` would otherwise revoke the gateway's own certificate.
 */
const checkDeviceId = (id: string): void => {
  if (!isDeviceId(id)) throw new PkiError({ message: `${JSON.stringify(id.slice(0, 80))} is not a device id (1-64 of A-Z a-z 0-9 _ -)` })
}

/** Issues one device certificate (CN = id, SAN URI urn:akis:device:<id>). */
export const createDeviceCert = async (dir: string, id: string, o: SignOpts & { /** Tests only: issue a certificate whose CN is not a valid device id (refusal tests). */ readonly allowBadId?: boolean } = {}): Promise<void> => {
  if (!o.allowBadId) checkDeviceId(id)
  const paths = pkiPaths(dir)
  mkdirSync(join(dir, "devices"), { recursive: true })
  const key = paths.deviceKey(id)
  const csr = `${paths.deviceCert(id)}.csr`
  await run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
    "-subj", `/CN=${id}`, "-addext", `subjectAltName=URI:urn:akis:device:${id}`, "-out", csr])
  writeKeyNote(key)
  await sign(paths, csr, paths.deviceCert(id), "device_ext", o)
  rmSync(csr, { force: true })
}

/** Device ids `prefix` + zero-padded number: `bus-0001` … */
export const fleetIds = (count: number, prefix = "bus-", start = 1): string[] => {
  const width = Math.max(4, String(start + count - 1).length)
  return Array.from({ length: count }, (_, i) => `${prefix}${String(start + i).padStart(width, "0")}`)
}

/**
 * Issues certificates for many devices. `openssl ca` keeps one database, so signing is serial;
 * key generation runs `concurrency` at a time. Skips devices that already have a certificate.
 */
export const createDeviceCerts = async (dir: string, ids: ReadonlyArray<string>, o: SignOpts & { onProgress?: (done: number) => void } = {}): Promise<number> => {
  const paths = pkiPaths(dir)
  let done = 0
  for (const id of ids) {
    if (!existsSync(paths.deviceCert(id))) await createDeviceCert(dir, id, o)
    o.onProgress?.(++done)
  }
  return done
}

/** Revokes a device's certificate and rewrites the CRL (gateways reload it by themselves). */
export const revokeDevice = async (dir: string, id: string): Promise<void> => {
  checkDeviceId(id)
  const paths = pkiPaths(dir)
  const cnf = initCaDb(paths)
  if (!existsSync(paths.deviceCert(id))) throw new PkiError({ message: `no certificate for device ${id} in ${dir}` })
  await withCaLock(paths, async () => {
    await run(["ca", "-batch", "-config", cnf, "-revoke", paths.deviceCert(id), "-crl_reason", "keyCompromise"])
    await gencrl(paths)
  })
}

/** Issues a self-signed certificate that no CA vouches for (for refusal tests). */
export const createSelfSigned = async (keyOut: string, certOut: string, cn: string): Promise<void> => {
  await run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyOut,
    "-days", "30", "-subj", `/CN=${cn}`, "-out", certOut])
  writeKeyNote(keyOut)
}

/** Serial numbers (upper-case hex) listed in a PEM CRL. */
export const crlSerials = async (crlPath: string): Promise<Set<string>> => {
  const text = await run(["crl", "-in", crlPath, "-noout", "-text"])
  const out = new Set<string>()
  for (const m of text.matchAll(/Serial Number:\s*([0-9A-Fa-f]+)/g)) out.add(m[1]!.toUpperCase().replace(/^0+/, ""))
  return out
}

/** Reads a file as text, or undefined when it does not exist. */
export const readIfExists = (path: string): string | undefined => (existsSync(path) ? readFileSync(path, "utf8") : undefined)
