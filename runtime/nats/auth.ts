/**
 * NATS credentials: which file a process of a role loads (config nats.credsDir / credsFile /
 * user+pass), TLS to NATS (nats.tls.*), the role's reply prefix, and the generation of nkey
 * credentials and the server's `authorization` block (`ops nats-auth`). Seeds are secrets: they
 * are written 0600 and never printed or logged.
 */
import { credsAuthenticator, nkeyAuthenticator, nkeys, type ConnectionOptions } from "@nats-io/transport-node"
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { basename, join } from "node:path"
import { NatsCredentialsError, NatsCredentialsMissing } from "../errors.ts"
import { inboxPrefixOf, renderAuthorization, type AuthUser } from "./permissions.ts"
import { roles, type Role, type TopologyOptions } from "./topology.ts"

/** The nats section of the config, as far as connecting is concerned. */
export interface NatsAuthConfig {
  readonly user: string
  readonly pass: string
  readonly credsDir: string
  readonly credsFile: string
  readonly inboxPrefix: string
  readonly tls: { readonly caFile: string; readonly certFile: string; readonly keyFile: string }
}

/** Seed file of a role in a credentials directory. */
export const seedPath = (dir: string, role: Role): string => join(dir, `${role}.nk`)
/** The generated server `authorization` block. */
export const authConfPath = (dir: string): string => join(dir, "auth.conf")

/** The part of nats.js's connect options that says who this process is (credentials, TLS, inbox). */
export type NatsAuth = Pick<ConnectionOptions, "authenticator" | "user" | "pass" | "tls" | "inboxPrefix">

/** Connect options for a process of `role` (throws {@link NatsCredentialsMissing} when its file is absent). */
export const natsAuth = (c: NatsAuthConfig, role: Role): NatsAuth => {
  const out: { -readonly [K in keyof NatsAuth]: NatsAuth[K] } = {}
  const file = c.credsFile || (c.credsDir ? seedPath(c.credsDir, role) : "")
  if (file) {
    if (!existsSync(file)) throw new NatsCredentialsMissing({ path: file, role })
    const text = readFileSync(file, "utf8")
    // A .creds file is parsed as written (its end markers need their newlines); a seed file is just the seed.
    out.authenticator = text.includes("BEGIN NATS USER JWT")
      ? credsAuthenticator(new TextEncoder().encode(text.endsWith("\n") ? text : `${text}\n`))
      : nkeyAuthenticator(new TextEncoder().encode(text.trim()))
  } else if (c.user) {
    out.user = c.user
    out.pass = c.pass
  }
  const { caFile, certFile, keyFile } = c.tls
  if (caFile || certFile || keyFile) {
    out.tls = { ...(caFile ? { caFile } : {}), ...(certFile ? { certFile } : {}), ...(keyFile ? { keyFile } : {}) }
  }
  // A credentials file named <role>.nk (e.g. the inspector's key given to `ops`) carries its role:
  // the server lets that key subscribe only to that role's reply prefix.
  const fileRole = c.credsFile ? roles.find((r) => basename(c.credsFile) === `${r}.nk`) : undefined
  out.inboxPrefix = c.inboxPrefix === "auto" ? inboxPrefixOf(fileRole ?? role) : c.inboxPrefix
  return out
}

/** Public keys of a credentials directory: each role's current key and, during a rotation, its previous one. */
export const authUsers = (dir: string): AuthUser[] => {
  const users: AuthUser[] = []
  for (const role of roles) {
    for (const f of [seedPath(dir, role), `${seedPath(dir, role)}.old`]) {
      if (!existsSync(f)) continue
      users.push({ role, nkey: nkeys.fromSeed(new TextEncoder().encode(readFileSync(f, "utf8").trim())).getPublicKey() })
    }
  }
  return users
}

const writeSecret = (path: string, text: string) => {
  writeFileSync(path, text, { mode: 0o600 })
  chmodSync(path, 0o600)
}

/** Writes the server's authorization block from the keys in `dir` (after init, rotation or a topology change). */
export const writeAuthConf = (dir: string, o: TopologyOptions): string => {
  const path = authConfPath(dir)
  writeFileSync(path, renderAuthorization(authUsers(dir), o))
  return path
}

/**
 * Creates an nkey per role (missing ones only, unless `force`) and the server's authorization
 * block. Returns the roles whose keys were created.
 */
export const initCredentials = (dir: string, o: TopologyOptions, force = false): Role[] => {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const created: Role[] = []
  for (const role of roles) {
    const p = seedPath(dir, role)
    if (existsSync(p) && !force) continue
    writeSecret(p, new TextDecoder().decode(nkeys.createUser().getSeed()) + "\n")
    rmSync(`${p}.old`, { force: true })
    created.push(role)
  }
  writeAuthConf(dir, o)
  return created
}

/**
 * Rotation, step 1: a new key for `role`; the old one stays valid (kept as `<role>.nk.old`) until
 * {@link finishRotation}, so processes can be restarted one by one.
 */
export const rotateCredentials = (dir: string, role: Role, o: TopologyOptions): void => {
  const p = seedPath(dir, role)
  if (!existsSync(p)) throw new NatsCredentialsMissing({ path: p, role })
  if (existsSync(`${p}.old`)) throw new NatsCredentialsError({ message: `a rotation of ${role} is already under way: finish it first (\`ops nats-auth rotate --role ${role} --finish\`)` })
  renameSync(p, `${p}.old`)
  writeSecret(p, new TextDecoder().decode(nkeys.createUser().getSeed()) + "\n")
  writeAuthConf(dir, o)
}

/** Rotation, step 2: the old key of `role` is no longer accepted (after the server reloads auth.conf). */
export const finishRotation = (dir: string, role: Role, o: TopologyOptions): boolean => {
  const old = `${seedPath(dir, role)}.old`
  if (!existsSync(old)) return false
  rmSync(old)
  writeAuthConf(dir, o)
  return true
}
