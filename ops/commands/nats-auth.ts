/**
 * `ops nats-auth`: NATS credentials of akis's roles (docs/security.md). `init` creates one nkey per
 * role in `--dir` (default nats.credsDir) and the server's authorization block `auth.conf`;
 * `rotate --role r` gives a role a new key while the old one stays valid, `--finish` retires the
 * old one; `conf` rewrites auth.conf (after a topology change); `show` prints each role's public
 * key and permissions. Seeds (the secrets) are written 0600 and never printed.
 *
 * `ops topology check|apply`: compares akis's streams and buckets with the configuration;
 * `apply` (admin) updates what NATS allows to change in place and creates what is missing.
 */
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { loadConfig } from "../../config/index.ts"
import { authConfPath, authUsers, finishRotation, initCredentials, rotateCredentials, seedPath, writeAuthConf } from "../../runtime/nats/auth.ts"
import { rolePermissions } from "../../runtime/nats/permissions.ts"
import { applyTopologyOn } from "../../runtime/nats/client.ts"
import { ensureTopology, roles, topologyOptions, type Role } from "../../runtime/nats/topology.ts"
import { attempt, CommandFailed, UsageError } from "../lib/cli/errors.ts"
import { configFlag, credsDirFlag } from "../lib/cli/flags.ts"
import { withContext } from "../lib/context.ts"

const dirFlag = credsDirFlag

const setup = (config: Option.Option<string>, dir: Option.Option<string>) => {
  const cfg = loadConfig({ file: Option.getOrUndefined(config) })
  const d = Option.getOrUndefined(dir) ?? cfg.nats.credsDir
  if (!d) throw new UsageError({ message: "no credentials directory: pass --dir or set nats.credsDir" })
  return { cfg, dir: d, topology: topologyOptions(cfg) }
}

/** Runs a step; an error becomes the one line `nats-auth: …` and exit code 1. */
const step = <A>(f: () => A | Promise<A>) => attempt(f, (message) => new CommandFailed({ message: `nats-auth: ${message}` }))

const reloadHint = (dir: string) =>
  `nats-server must load ${authConfPath(dir)} (\`include\` it in the server config), then: nats-server --signal reload (or kill -HUP <pid>)`

const init = Command.make(
  "init",
  { config: configFlag, dir: dirFlag, force: Flag.Boolean("force").pipe(Flag.withDescription("replace existing keys (every process must get the new ones)"), Flag.withDefault(false)) },
  Effect.fn(function* ({ config, dir, force }) {
    const r = yield* step(() => {
      const s = setup(config, dir)
      return { ...s, created: initCredentials(s.dir, s.topology, force) }
    })
    yield* Console.log(r.created.length ? `created keys for ${r.created.join(", ")} in ${r.dir} (0600)` : `keys already present in ${r.dir} (use --force to replace)`)
    yield* Console.log(`wrote ${authConfPath(r.dir)}; ${reloadHint(r.dir)}`)
  }),
).pipe(Command.withDescription("create one nkey per role (admin, node, gateway, inspector, api, notifier) and the server's authorization block"))

const rotate = Command.make(
  "rotate",
  {
    config: configFlag, dir: dirFlag,
    role: Flag.Literals("role", roles).pipe(Flag.withDescription("whose key to rotate")),
    finish: Flag.Boolean("finish").pipe(Flag.withDescription("retire the previous key (after every process of the role runs with the new one)"), Flag.withDefault(false)),
  },
  Effect.fn(function* ({ config, dir, role, finish }) {
    const r = yield* step(() => {
      const s = setup(config, dir)
      if (finish) return { ...s, done: finishRotation(s.dir, role as Role, s.topology) }
      rotateCredentials(s.dir, role as Role, s.topology)
      return { ...s, done: true }
    })
    if (finish) {
      yield* Console.log(r.done ? `retired the previous ${role} key; ${reloadHint(r.dir)}` : `no rotation of ${role} under way`)
    } else {
      yield* Console.log(`new ${role} key in ${seedPath(r.dir, role as Role)}; the old one stays valid until \`ops nats-auth rotate --role ${role} --finish\`.\n` +
        `Now: ${reloadHint(r.dir)}; restart the ${role} processes with the new file; then finish the rotation and reload again.`)
    }
  }),
).pipe(Command.withDescription("rotate a role's key in two steps, without downtime"))

const conf = Command.make(
  "conf",
  { config: configFlag, dir: dirFlag },
  Effect.fn(function* ({ config, dir }) {
    const path = yield* step(() => {
      const s = setup(config, dir)
      return writeAuthConf(s.dir, s.topology)
    })
    yield* Console.log(`wrote ${path}`)
  }),
).pipe(Command.withDescription("rewrite auth.conf from the keys and the topology table (after an upgrade that adds streams or buckets)"))

const show = Command.make(
  "show",
  { config: configFlag, dir: dirFlag, role: Flag.Literals("role", roles).pipe(Flag.optional) },
  Effect.fn(function* ({ config, dir, role }) {
    const r = yield* step(() => setup(config, dir))
    const only = Option.getOrUndefined(role)
    for (const u of authUsers(r.dir)) {
      if (only && u.role !== only) continue
      const p = rolePermissions(u.role, r.topology)
      yield* Console.log(`${u.role}  ${u.nkey}\n` + (p
        ? `  publish:   ${p.publish.allow.join(" ")}${p.publish.deny.length ? `\n  deny:      ${p.publish.deny.join(" ")}` : ""}\n  subscribe: ${p.subscribe.allow.join(" ")}`
        : "  every subject"))
    }
  }),
).pipe(Command.withDescription("each role's public key and what it may publish and subscribe to"))

/** `ops nats-auth`. */
export const natsAuthCommand = Command.make("nats-auth").pipe(
  Command.withDescription("NATS credentials and permissions of akis's roles"),
  Command.withSubcommands([init, rotate, conf, show]),
)

const check = Command.make(
  "check",
  { config: configFlag },
  Effect.fn(function* ({ config }) {
    yield* withContext(config, (ctx) => ensureTopology(ctx.nats.jsm, topologyOptions(ctx.config), { create: false, waitMs: 0 }),
      (message) => new CommandFailed({ message: `nats-auth: ${message}` }))
    yield* Console.log("every stream and bucket matches the configuration")
  }),
).pipe(Command.withDescription("compare every stream and bucket with the configuration (read-only)"))

const apply = Command.make(
  "apply",
  { config: configFlag },
  Effect.fn(function* ({ config }) {
    const r = yield* withContext(config, async (ctx) => applyTopologyOn(ctx.nats.nc, topologyOptions(ctx.config)),
      (message) => new CommandFailed({ message: `nats-auth: ${message}` }))
    for (const c of r.changed) yield* Console.log(`changed ${c}`)
    for (const c of r.impossible) yield* Console.error(`cannot change ${c}`)
    if (!r.changed.length && !r.impossible.length) yield* Console.log("nothing to change")
    if (r.impossible.length) return yield* new CommandFailed({ message: `${r.impossible.length} change(s) NATS does not allow in place` })
  }),
).pipe(Command.withDescription("update streams and buckets to the configuration where NATS allows it (admin)"))

/** `ops topology`. */
export const topologyCommand = Command.make("topology").pipe(
  Command.withDescription("akis's streams, buckets and consumers against the configuration"),
  Command.withSubcommands([check, apply]),
)
