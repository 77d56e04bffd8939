/**
 * `ops certs`: the fleet's certificates. `ca` creates a fleet CA, `import-ca` adopts an existing
 * one, `server` issues the gateway's server certificate, `devices` issues device certificates in
 * bulk, `revoke` revokes one and rewrites the CRL, `crl` re-issues the CRL before it expires. Files live under `--dir` (default
 * `.akis/certs`, the gateway's default `gateway.certDir`); keys are 0600 and never printed.
 */
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { readCrl } from "../../gateway/crl.ts"
import { renewCrlIfDue } from "../certs/crl-keeper.ts"
import { attempt, CommandFailed } from "../lib/cli/errors.ts"
import { certDirFlag } from "../lib/cli/flags.ts"
import { createCa, createDeviceCerts, createServerCert, fleetIds, importCa, issueCrl, pkiPaths, revokeDevice } from "../certs/pki.ts"

/** Runs a PKI step; a failure becomes the one-line message `certs: …` and exit code 1 instead of a stack trace. */
const pki = <A>(f: () => Promise<A>) => attempt(f, (message) => new CommandFailed({ message: `certs: ${message}` }))

const dir = certDirFlag

const ca = Command.make(
  "ca",
  {
    dir,
    cn: Flag.String("cn").pipe(Flag.withDescription("CA common name"), Flag.withDefault("akis fleet CA")),
    days: Flag.Int("days").pipe(Flag.withDescription("validity in days"), Flag.withDefault(3650)),
    force: Flag.Boolean("force").pipe(Flag.withDescription("replace an existing CA (invalidates every certificate it issued)"), Flag.withDefault(false)),
  },
  Effect.fn(function* ({ dir, cn, days, force }) {
    const p = yield* pki(() => createCa(dir, { cn, days, force }))
    yield* Console.log(`fleet CA: ${p.caCert} (key ${p.caKey}, CRL ${p.crl})`)
  }),
).pipe(Command.withDescription("create a fleet CA (EC P-256) and an empty CRL"))

const importCaCmd = Command.make(
  "import-ca",
  { dir },
  Effect.fn(function* ({ dir }) {
    const p = yield* pki(() => importCa(dir))
    yield* Console.log(`adopted CA ${p.caCert}; signing database in ${dir}/ca, CRL ${p.crl}`)
  }),
).pipe(Command.withDescription("adopt an existing CA: first copy its certificate to <dir>/ca.crt and its key to <dir>/ca/ca.key"))

const server = Command.make(
  "server",
  {
    dir,
    hosts: Flag.String("hosts").pipe(Flag.withDescription("comma-separated IPs / DNS names of the gateway"), Flag.withDefault("127.0.0.1,localhost")),
  },
  Effect.fn(function* ({ dir, hosts }) {
    const p = yield* pki(() => createServerCert(dir, hosts.split(",").map((h) => h.trim()).filter(Boolean)))
    yield* Console.log(`gateway certificate: ${p.serverCert} (key ${p.serverKey})`)
  }),
).pipe(Command.withDescription("issue the gateway's server certificate"))

const devices = Command.make(
  "devices",
  {
    dir,
    devices: Flag.Int("devices").pipe(Flag.withDescription("how many"), Flag.withDefault(1000)),
    prefix: Flag.String("prefix").pipe(Flag.withDescription("id prefix; ids are <prefix><0001…>"), Flag.withDefault("bus-")),
    start: Flag.Int("start").pipe(Flag.withDescription("first number"), Flag.withDefault(1)),
    days: Flag.Int("days").pipe(Flag.withDescription("validity in days"), Flag.withDefault(825)),
  },
  Effect.fn(function* ({ dir, devices, prefix, start, days }) {
    const ids = fleetIds(devices, prefix, start)
    const t0 = performance.now()
    yield* pki(() =>
      createDeviceCerts(dir, ids, { days, onProgress: (n) => n % 100 === 0 && process.stderr.write(`\r${n}/${ids.length} device certificates`) }),
    )
    process.stderr.write("\n")
    yield* Console.log(`${ids.length} device certificates (${ids[0]} … ${ids.at(-1)}) in ${pkiPaths(dir).deviceCert("").replace(/\.crt$/, "*.crt")}, ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  }),
).pipe(Command.withDescription("issue device certificates in bulk (CN and SAN URI urn:akis:device:<id>); existing ones are kept"))

const revoke = Command.make(
  "revoke",
  { dir, device: Argument.String("device").pipe(Argument.withDescription("device id")) },
  Effect.fn(function* ({ dir, device }) {
    yield* pki(() => revokeDevice(dir, device))
    yield* Console.log(`revoked ${device}; CRL rewritten (${pkiPaths(dir).crl}); running gateways pick it up within gateway.crlReloadMs`)
  }),
).pipe(Command.withDescription("revoke a device certificate and rewrite the CRL"))

const crl = Command.make(
  "crl",
  {
    dir,
    ifWithinDays: Flag.Int("if-within-days").pipe(
      Flag.withDescription("only when the CRL's next update is fewer days away (for a daily timer); 0 = re-issue now"), Flag.withDefault(0)),
  },
  Effect.fn(function* ({ dir, ifWithinDays }) {
    const lines: string[] = []
    const r = yield* pki(() =>
      ifWithinDays > 0
        ? renewCrlIfDue({ dir, renewBeforeMs: ifWithinDays * 86_400_000, now: Date.now, log: (l) => lines.push(l) })
        : issueCrl(dir).then(() => "renewed" as const))
    if (r === "no_ca_key") return yield* new CommandFailed({ message: `certs: no CA key at ${pkiPaths(dir).caKey}: run this where the CA key is kept` })
    const c = yield* pki(() => readCrl(pkiPaths(dir).crl, pkiPaths(dir).caCert))
    const next = c.nextUpdate === undefined ? "none" : new Date(c.nextUpdate).toISOString()
    yield* Console.log(r === "fresh" ? `CRL still fresh: next update ${next}` : `CRL re-issued: ${c.serials.size} revoked, next update ${next}; running gateways pick it up within gateway.crlReloadMs`)
  }),
).pipe(Command.withDescription("re-issue the CRL before its next update (gateways refuse nobody for a stale CRL, but revocations need a fresh one)"))

const init = Command.make(
  "init",
  { dir, devices: Flag.Int("devices").pipe(Flag.optional), prefix: Flag.String("prefix").pipe(Flag.withDefault("bus-")) },
  Effect.fn(function* ({ dir, devices, prefix }) {
    yield* pki(async () => {
      await createCa(dir)
      await createServerCert(dir)
      const n = Option.getOrUndefined(devices)
      if (n) await createDeviceCerts(dir, fleetIds(n, prefix))
    })
    yield* Console.log(`fleet PKI in ${dir}: ca.crt, crl.pem, server.crt${Option.isSome(devices) ? `, devices/${prefix}*.crt` : ""}`)
  }),
).pipe(Command.withDescription("ca + server (+ --devices N) in one go"))

/** `ops certs …` */
export const certs = Command.make("certs").pipe(
  Command.withDescription("fleet certificates: CA, gateway server certificate, device certificates, revocation"),
  Command.withSubcommands([init, ca, importCaCmd, server, devices, revoke, crl]),
)
